"""Threshold checks on the marts (dbt_like_sql/thresholds.yml): they warn with the value and the limit."""

import dagster as dg

from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.defs.warehouse.sql_models import asset_key, lake_connection, tables_named
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.warehouse.thresholds import Threshold, load_thresholds


def _threshold_check(spec: Threshold) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset_key(spec.model), name=spec.name, description=spec.description, blocking=False)
    def _check(diplo: DiploData) -> dg.AssetCheckResult:
        con = lake_connection(diplo, reading=tables_named(spec.value_sql, spec.worst_sql),
                              running=[spec.value_sql, spec.worst_sql])
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


threshold_checks = [_threshold_check(spec) for spec in load_thresholds()]
