"""Publish `data/warehouse.duckdb`: views over the lake, rebuilt in a temp file and renamed into place."""

import dagster as dg

from diplo_pipeline.defs.automation import publish_after_inputs
from diplo_pipeline.defs.keys import CATALOG
from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.defs.warehouse.project import PROJECT, asset_key
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.warehouse.catalog import build_catalog
from diplo_pipeline.lib.warehouse.catalog_status import problems
from diplo_pipeline.lib.warehouse.sql_runner import PYTHON_MARTS


@dg.asset(
    key=CATALOG,
    deps=[asset_key(name) for name in [*PROJECT.sources, *PROJECT.models, *PYTHON_MARTS]],
    group_name="warehouse",
    kinds={"duckdb"},
    owners=["team:diplo-pipeline"],
    automation_condition=publish_after_inputs,
    description=(
        "The DuckDB catalog people query (`duckdb data/warehouse.duckdb -readonly`): views with absolute "
        "paths over the Parquet lake. Published by atomic rename, so an open reader never blocks a build. "
        "Published even when a blocking data test failed: that table is served at its last good version or "
        "left out, with the reason in `catalog_status`."
    ),
)
def catalog(diplo: DiploData) -> dg.MaterializeResult:
    paths = diplo.paths()
    published = build_catalog(paths.lake, paths.catalog, PROJECT, paths.store_root if paths.lake_url else None)
    found = problems(published.plan)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(published.published or paths.catalog)),
            "tables": dg.MetadataValue.md(
                markdown_table([{"table": k, "rows": v} for k, v in published.counts.items()], 50)
            ),
            "problems": dg.MetadataValue.json(found),
            "problems_table": dg.MetadataValue.md(markdown_table(
                [{k: row[k] for k in ("relation", "served", "reason")} for row in found], 50
            ) if found else "_every relation is served as built_"),
            **{f"rows/{name}": rows for name, rows in published.counts.items()},
        }
    )
