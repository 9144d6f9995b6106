"""The `findings` mart (WAREHOUSE.md): every rule of `diplo_pipeline/lib/analytics/findings/` over every run."""

import dagster as dg
import duckdb
import polars as pl

from diplo_pipeline.defs.asset_metadata import column_schema
from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.defs.warehouse.sql_models import asset_key, lake_connection
from diplo_pipeline.lib.analytics.findings import ERROR, WARN, find_all
from diplo_pipeline.lib.lake.io import write_parquet_atomic
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.warehouse.sql_runner import PYTHON_MARTS, python_mart_path

FINDINGS = dg.AssetKey(["marts", "findings"])

INPUTS = PYTHON_MARTS["findings"]  # dbt_like_sql/intermediate: run steps, runs, agents
PREVIEW_COLUMNS = ["run_name", "rule", "severity", "step_start", "step_end", "value", "message"]


def _read_inputs(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    run_steps, runs, agents = (con.sql(f"select * from {name}").pl() for name in INPUTS)
    return run_steps, runs, agents


def _rows_of(table: pl.DataFrame, severities: tuple[str, ...]) -> list[dict]:
    return table.filter(pl.col("severity").is_in(severities)).select(PREVIEW_COLUMNS).to_dicts()


@dg.asset(
    key=FINDINGS,
    deps=[asset_key(name) for name in INPUTS],
    group_name="marts",
    kinds={"python", "polars", "parquet"},
    owners=["team:diplo-pipeline"],
    description=(
        "What an experienced researcher would flag, one row per (run, rule, episode): severity, steps, the "
        "worst value against its threshold, a sentence with the numbers and the likely cause with its usual "
        "fix. Rules and thresholds: WAREHOUSE.md; code: `diplo_pipeline/lib/analytics/findings/`."
    ),
)
def findings(diplo: DiploData) -> dg.MaterializeResult:
    con = lake_connection(diplo)
    try:
        run_steps, runs, agents = _read_inputs(con)
    finally:
        con.close()
    table = find_all(run_steps, runs, agents).to_arrow()
    path = python_mart_path(diplo.paths().lake, "findings")
    write_parquet_atomic(table, path)
    found = pl.from_arrow(table)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.num_rows,
            "dagster/column_schema": column_schema(table.schema),
            "by_severity": dg.MetadataValue.json(dict(found["severity"].value_counts().iter_rows())),
            "preview": dg.MetadataValue.md(markdown_table(_rows_of(found, (ERROR, WARN)), limit=30)),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


@dg.asset_check(
    asset=FINDINGS,
    name="no_error_findings",
    blocking=False,  # a finding is news about a run, not a broken table: nothing downstream should stop
    description="Warns while any run has an `error` finding (divergence, crash, invalid data); lists them.",
)
def no_error_findings(diplo: DiploData) -> dg.AssetCheckResult:
    errors = _rows_of(pl.read_parquet(python_mart_path(diplo.paths().lake, "findings")), (ERROR,))
    return dg.AssetCheckResult(
        passed=not errors,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "error_findings": len(errors),
            "errors": dg.MetadataValue.md(markdown_table(errors, limit=30)),
        },
        description=f"{len(errors)} error findings" if errors else None,
    )
