"""The `power_law_fits` mart (WAREHOUSE.md) as a Dagster asset, and its check; the logic is in lib/."""

from __future__ import annotations

from contextlib import closing

import dagster as dg

from diplo_pipeline.defs import pools
from diplo_pipeline.defs.asset_metadata import column_schema
from diplo_pipeline.defs.keys import POWER_LAW_FITS
from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.defs.warehouse.project import asset_key, lake_connection
from diplo_pipeline.lib.analytics.fits import MODELS
from diplo_pipeline.lib.analytics.fits.mart import (
    PREVIEW_COLUMNS,
    flagged_fits_by_model,
    flagged_group_fits,
    power_law_table,
    readable,
)
from diplo_pipeline.lib.analytics.fits.scopes import METRIC, X_METRIC
from diplo_pipeline.lib.lake.io import write_parquet_atomic
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.warehouse.sql_runner import PYTHON_MARTS, python_mart_path


@dg.asset(
    key=POWER_LAW_FITS,
    pool=pools.SQL,
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
    with closing(lake_connection(diplo, reading=PYTHON_MARTS["power_law_fits"])) as con:
        # Scopes whose points are unchanged keep their fits (and bootstrap intervals) from the last build.
        table, fitted = power_law_table(con, diplo.paths().state / "power_law_fits.json")
    path = python_mart_path(diplo.paths().lake, "power_law_fits")
    write_parquet_atomic(table, path)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.num_rows,
            "scopes_fitted": fitted,  # the others' inputs were unchanged: their fits were kept
            "dagster/column_schema": column_schema(table.schema),
            "fits_with_flags": dg.MetadataValue.json(flagged_fits_by_model(table)),
            "preview": dg.MetadataValue.md(markdown_table(readable(table.to_pylist(), PREVIEW_COLUMNS), limit=30)),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


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
    flagged = flagged_group_fits(diplo.paths().lake)
    return dg.AssetCheckResult(
        passed=not flagged,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "flagged_fits": len(flagged),
            "flagged": dg.MetadataValue.md(markdown_table(readable(flagged), limit=30)),
        },
        description=f"{len(flagged)} tag or sweep power-law fits carry flags" if flagged else None,
    )
