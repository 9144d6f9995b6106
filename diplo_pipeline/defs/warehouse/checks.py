"""Threshold checks on the marts (dbt_like_sql/thresholds.yml): they warn with the value and the limit."""

import dagster as dg

from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.defs.warehouse.sql_models import asset_key, lake_connection
from diplo_pipeline.lib.lake.duck import duckdb_session
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.warehouse.sql_project import SQL_ROOT, parse_refs
from diplo_pipeline.lib.warehouse.thresholds import Threshold, load_thresholds


def _threshold_check(spec: Threshold, reading: list[str]) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset_key(spec.model), name=spec.name, description=spec.description, blocking=False)
    def _check(diplo: DiploData) -> dg.AssetCheckResult:
        con = lake_connection(diplo, reading=reading, running=[spec.value_sql, spec.worst_sql])
        try:
            passed, value, worst = spec.evaluate(con)
        finally:
            con.close()
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "actual": dg.MetadataValue.float(value) if value is not None else dg.MetadataValue.text("no data"),
                "threshold": f"{spec.op} {spec.threshold:g}",
                "worst_rows": dg.MetadataValue.md(markdown_table(worst)),
            },
            description=None if value is None else f"{value:.4g} found" if spec.op == "report"
            else f"actual {value:.4g} vs required {spec.op} {spec.threshold:g}",
        )

    return _check


def _tables_read(spec: Threshold, con) -> list[str]:
    """The tables a threshold's two queries read, found by DuckDB's parser as the models' are."""
    where = SQL_ROOT / "thresholds.yml"
    return [name for sql in (spec.value_sql, spec.worst_sql) for name, _ in parse_refs(sql, where, con)]


with duckdb_session() as _parser:
    threshold_checks = [_threshold_check(spec, _tables_read(spec, _parser)) for spec in load_thresholds()]
