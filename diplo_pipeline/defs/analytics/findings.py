"""The `findings` mart (WAREHOUSE.md) as a Dagster asset, and its check: every rule of
`diplo_pipeline/lib/analytics/findings/` over every run; the logic is in lib/."""

from contextlib import closing

import dagster as dg
import polars as pl

from diplo_pipeline.defs.asset_metadata import column_schema
from diplo_pipeline.defs.keys import FINDINGS
from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.defs.warehouse.sql_models import asset_key, lake_connection
from diplo_pipeline.lib.analytics.findings import ERROR, INPUTS, WARN, findings_from, preview_rows
from diplo_pipeline.lib.lake.io import write_parquet_atomic
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.warehouse.sql_runner import python_mart_path


@dg.asset(
    key=FINDINGS,
    deps=[asset_key(name) for name in INPUTS],
    group_name="marts",
    kinds={"python", "polars", "parquet"},
    owners=["team:diplo-pipeline"],
    description=(
        "What an experienced researcher would flag, one row per (run, rule, episode): severity, steps, the "
        "worst value against its threshold, a sentence with the numbers and the likely cause with its usual "
        "fix. Rules: WAREHOUSE.md; their limits: `dbt_like_sql/thresholds.yml`; code: "
        "`diplo_pipeline/lib/analytics/findings/`."
    ),
)
def findings(diplo: DiploData) -> dg.MaterializeResult:
    with closing(lake_connection(diplo, reading=INPUTS)) as con:
        found = findings_from(con)
    table = found.to_arrow()
    path = python_mart_path(diplo.paths().lake, "findings")
    write_parquet_atomic(table, path)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.num_rows,
            "dagster/column_schema": column_schema(table.schema),
            "by_severity": dg.MetadataValue.json(dict(found["severity"].value_counts().iter_rows())),
            "preview": dg.MetadataValue.md(markdown_table(preview_rows(found, (ERROR, WARN)), limit=30)),
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
    errors = preview_rows(pl.read_parquet(python_mart_path(diplo.paths().lake, "findings")), (ERROR,))
    return dg.AssetCheckResult(
        passed=not errors,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "error_findings": len(errors),
            "errors": dg.MetadataValue.md(markdown_table(errors, limit=30)),
        },
        description=f"{len(errors)} error findings" if errors else None,
    )
