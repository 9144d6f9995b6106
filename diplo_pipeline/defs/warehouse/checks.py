"""Threshold checks on the marts (dbt_like_sql/thresholds.yml): they warn with the value and the limit.

A SQL model evaluates its own in its step, after it is written (its check specs, sql_models.py); a threshold
on a table written in Python (findings, fits) is a check of its own here.
"""

import dagster as dg
import duckdb

from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.defs.warehouse.project import PROJECT, asset_key, lake_connection
from diplo_pipeline.lib.lake.duck import duckdb_session
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.warehouse.sql_project import SQL_ROOT, parse_refs
from diplo_pipeline.lib.warehouse.thresholds import Threshold, load_thresholds


def threshold_spec(spec: Threshold) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name=spec.name, asset=asset_key(spec.model), description=spec.description,
                             blocking=False)


def evaluate_threshold(con: duckdb.DuckDBPyConnection, spec: Threshold) -> dg.AssetCheckResult:
    """`spec` on `con`, which holds what it reads (THRESHOLD_READS, its two queries)."""
    passed, value, worst = spec.evaluate(con)
    return dg.AssetCheckResult(
        asset_key=asset_key(spec.model),
        check_name=spec.name,
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


def _threshold_check(spec: Threshold) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset_key(spec.model), name=spec.name, description=spec.description, blocking=False)
    def _check(diplo: DiploData) -> dg.AssetCheckResult:
        con = lake_connection(diplo, reading=THRESHOLD_READS[spec.name], running=[spec.value_sql, spec.worst_sql])
        try:
            return evaluate_threshold(con, spec)
        finally:
            con.close()

    return _check


def _tables_read(spec: Threshold, con) -> list[str]:
    """The tables a threshold's two queries read, found by DuckDB's parser as the models' are."""
    where = SQL_ROOT / "thresholds.yml"
    return [name for sql in (spec.value_sql, spec.worst_sql) for name, _ in parse_refs(sql, where, con)]


THRESHOLDS = load_thresholds()
with duckdb_session() as _parser:
    THRESHOLD_READS = {spec.name: _tables_read(spec, _parser) for spec in THRESHOLDS}


def thresholds_of(model: str) -> list[Threshold]:
    """The thresholds a SQL model evaluates in its own step: each reads only the model and what it is built on."""
    if model not in PROJECT.models:
        return []
    built_on = PROJECT.built_on(model)
    return [spec for spec in THRESHOLDS if spec.model == model and set(THRESHOLD_READS[spec.name]) <= built_on]


_IN_STEP = {spec.name for model in PROJECT.models for spec in thresholds_of(model)}
threshold_checks = [_threshold_check(spec) for spec in THRESHOLDS if spec.name not in _IN_STEP]
