"""The `power_law_fits` mart (WAREHOUSE.md) as a Dagster asset, and its check; the logic is in lib/."""

from __future__ import annotations

import dagster as dg
import duckdb
import pyarrow as pa

from diplo_pipeline.defs.asset_metadata import column_schema
from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.defs.warehouse.sql_models import asset_key, lake_connection
from diplo_pipeline.lib.analytics.fits import MODELS
from diplo_pipeline.lib.analytics.fits.scopes import (
    METRIC,
    PREVIEW_COLUMNS,
    RUNS_SQL,
    SCHEMA,
    X_METRIC,
    fit_rows,
    fit_scope,
    load_series,
    readable,
    scopes_of,
)
from diplo_pipeline.lib.lake.io import write_parquet_atomic
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.warehouse.sql_runner import PYTHON_MARTS, python_mart_path

POWER_LAW_FITS = dg.AssetKey(["marts", "power_law_fits"])


@dg.asset(
    key=POWER_LAW_FITS,
    deps=[asset_key(name) for name in PYTHON_MARTS["power_law_fits"]],
    group_name="marts",
    kinds={"python", "scipy", "parquet"},
    owners=["team:diplo-pipeline"],
    description=(
        f"Scaling-law fits of `{METRIC}` against `{X_METRIC}`, one row per (scope, scope_id, metric, model): "
        f"per run, per tag (the legacy `power-laws-*` runs as one group) and per sweep; models "
        f"{', '.join(f'`{m}`' for m in MODELS)} with bootstrap intervals (resampling runs in group scopes), "
        "R², span in decades, held-out error on the largest compute and quality flags. Methods: "
        "`diplo_pipeline/lib/analytics/fits/`."
    ),
)
def power_law_fits(diplo: DiploData) -> dg.MaterializeResult:
    con = lake_connection(diplo)
    try:
        series = load_series(con)
        runs = con.execute(RUNS_SQL).fetchall()
    finally:
        con.close()
    rows = [row for scope in scopes_of(series, runs) for row in fit_rows(scope, fit_scope(scope, series))]
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    path = python_mart_path(diplo.paths().lake, "power_law_fits")
    write_parquet_atomic(table, path)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.num_rows,
            "dagster/column_schema": column_schema(table.schema),
            "fits_with_flags": dg.MetadataValue.json(
                {model: sum(1 for row in rows if row["model"] == model and row["flags"]) for model in MODELS}
            ),
            "preview": dg.MetadataValue.md(markdown_table(readable(rows, PREVIEW_COLUMNS), limit=30)),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


FLAGGED_GROUP_FITS_SQL = """
select scope, scope_id, exponent, exponent_ci_low, exponent_ci_high, r2, n_points, n_runs, x_decades, flags
from read_parquet($path)
where model = 'power_law' and scope in ('tag', 'sweep') and len(flags) > 0
order by scope, scope_id
"""


@dg.asset_check(
    asset=POWER_LAW_FITS,
    name="power_law_fits_without_flags",
    blocking=False,  # a doubtful fit is a warning to the reader, not a broken table
    description=(
        "Warns when a `power_law` fit of a tag or sweep carries a flag (few points, narrow range, an "
        "exponent interval that includes zero, ...): its exponent should not be quoted without the caveat. "
        "Lists them."
    ),
)
def power_law_fits_without_flags(diplo: DiploData) -> dg.AssetCheckResult:
    path = python_mart_path(diplo.paths().lake, "power_law_fits")
    con = duckdb.connect()
    try:
        relation = con.sql(FLAGGED_GROUP_FITS_SQL, params={"path": str(path)})
        flagged = [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
    finally:
        con.close()
    return dg.AssetCheckResult(
        passed=not flagged,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "flagged_fits": len(flagged),
            "flagged": dg.MetadataValue.md(markdown_table(readable(flagged), limit=30)),
        },
        description=f"{len(flagged)} tag or sweep power-law fits carry flags" if flagged else None,
    )
