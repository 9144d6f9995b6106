"""Raw Axiom events from export files (and the live APL source, defs/axiom/live.py): staged per file or
fetched day, then one partition per UTC day."""

import dagster as dg

from diplo_pipeline.defs import pools
from diplo_pipeline.defs.asset_metadata import column_schema
from diplo_pipeline.defs.keys import AXIOM_APL, AXIOM_EVENTS, AXIOM_EXPORT_FILES
from diplo_pipeline.defs.partitions import axiom_days_partitions
from diplo_pipeline.defs.quarantine_checks import quarantine_check
from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.lib.axiom import day_partitions, pending_days, staging
from diplo_pipeline.lib.axiom.schema import EVENTS_SCHEMA
from diplo_pipeline.lib.previews import markdown_table

QUARANTINE_CHECK = "no_quarantined_axiom_lines"


@dg.asset(
    key=AXIOM_EXPORT_FILES,
    pool=pools.INGEST,
    group_name="sources",
    kinds={"python", "parquet", "axiom"},
    owners=["team:diplo-pipeline"],
    description=(
        "Axiom export files (NDJSON from `axiom query -f json`, JSON arrays, CSV, saved APL answers, gzip) "
        "parsed once per new or changed file into typed rows with the whole event kept as `payload`. Each "
        "malformed record goes to `data/quarantine/axiom/` with file, locator (line, array element or row) "
        "and reason; the records around it are kept."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            QUARANTINE_CHECK,
            asset=AXIOM_EXPORT_FILES,
            description="Records of export files that are not valid events (bad JSON, no `_time`, no `event`, "
            "a time out of range, text that is not Unicode, a damaged .gz).",
        )
    ],
)
def axiom_export_files(context: dg.AssetExecutionContext, diplo: DiploData):
    paths = diplo.paths()
    result = staging.stage_exports(paths)  # marks the days it touches pending before it stages them
    # Every pending day needs its partition, including days a killed run marked but never added.
    known = set(context.instance.get_dynamic_partitions(axiom_days_partitions.name))
    new_days = sorted(set(pending_days.pending_days(paths)) - known)
    if new_days:
        context.instance.add_dynamic_partitions(axiom_days_partitions.name, new_days)
    return dg.MaterializeResult(
        metadata={
            "files_seen": result.files_seen,
            "files_parsed": len(result.files_parsed),
            "files_removed": len(result.files_removed),
            "rows_parsed": result.rows_parsed,
            "days_to_rebuild": dg.MetadataValue.json(sorted(result.affected_days)),
        },
        check_results=[
            quarantine_check(QUARANTINE_CHECK, paths, "axiom", "malformed lines (bad JSON, no _time, no event)")
        ],
    )


@dg.asset(
    key=AXIOM_EVENTS,
    pool=pools.INGEST,
    deps=[axiom_export_files, AXIOM_APL],
    group_name="sources",
    kinds={"duckdb", "parquet", "axiom"},
    owners=["team:diplo-pipeline"],
    partitions_def=axiom_days_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "Every Axiom event of one UTC day, deduplicated by content (`event_id`), with known fields as typed "
        "columns and the whole event in `payload`. Queried as `axiom_events`."
    ),
)
def axiom_events(context: dg.AssetExecutionContext, diplo: DiploData) -> dg.MaterializeResult:
    paths = diplo.paths()
    snapshot = pending_days.pending_snapshot(paths)  # a day staged again while this runs stays pending
    counts = day_partitions.build_days(paths, list(context.partition_keys))
    rows = [{"day": day, "events": n} for day, n in sorted(counts.items())]
    pending_days.mark_days_built(paths, set(context.partition_keys), snapshot)
    removed = day_partitions.remove_stale_days(paths)
    return dg.MaterializeResult(
        metadata={
            "days_built": len(rows),
            "events_written": sum(r["events"] for r in rows),
            "dagster/row_count": sum(r["events"] for r in rows),
            "dagster/column_schema": column_schema(EVENTS_SCHEMA),
            "days_removed": dg.MetadataValue.json(removed),
            "preview": dg.MetadataValue.md(markdown_table(rows, limit=31)),
        }
    )
