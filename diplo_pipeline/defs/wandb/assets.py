"""Raw WandB runs: one dynamic partition per run id, many partitions per Dagster run.

A run comes from offline `.wandb` files or from the live API (when WANDB_API_KEY is set); both write
the same seven Parquet files per run (runs, config, summary, metric_points, artifacts, tables, media),
so nothing downstream knows or cares which.
"""

import dagster as dg

from diplo_pipeline.defs import pools
from diplo_pipeline.defs.asset_metadata import column_schema
from diplo_pipeline.defs.keys import WANDB_API_LISTING, WANDB_RUNS
from diplo_pipeline.defs.partitions import wandb_runs_partitions
from diplo_pipeline.defs.quarantine_checks import quarantine_check
from diplo_pipeline.defs.resources import DiploData, WandbApi
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.wandb import api_sync, run_partitions
from diplo_pipeline.lib.wandb.schemas import METRIC_POINTS_SCHEMA

QUARANTINE_CHECK = "no_quarantined_wandb_records"


class WandbListingConfig(dg.Config):
    full_listing: bool = False  # also list every run now to find runs deleted in WandB


@dg.asset(
    key=WANDB_API_LISTING,
    pool=pools.INGEST,
    group_name="sources",
    kinds={"python", "wandb"},
    owners=["team:diplo-pipeline"],
    description=(
        "The live WandB project listed incrementally: runs whose `heartbeatAt` is at or after the stored "
        "watermark plus every run still running, with config and summary in bulk; a full listing every "
        "DIPLO_WANDB_FULL_LISTING_S (6 h) finds deleted runs. Adds a `wandb_runs` partition per new run. "
        "Off (no network) unless WANDB_API_KEY is set."
    ),
)
def wandb_api_listing(
    context: dg.AssetExecutionContext, config: WandbListingConfig, diplo: DiploData, wandb_api: WandbApi
) -> dg.MaterializeResult:
    if not wandb_api.configured:
        return dg.MaterializeResult(metadata={"live_source": f"off: {wandb_api.api_key_variable} is not set"})
    paths = diplo.paths()
    source = wandb_api.source()
    result = api_sync.refresh_listing(source, paths, force_full=config.full_listing)
    known = set(context.instance.get_dynamic_partitions(wandb_runs_partitions.name))
    new_keys = sorted(set(result.runs) - known)
    if new_keys:
        context.instance.add_dynamic_partitions(wandb_runs_partitions.name, new_keys)
    context.log.info(f"listed {result.listed} changed or running runs; {len(result.pending)} to ingest")
    return dg.MaterializeResult(
        metadata={
            "host": source.settings.host,
            "project": source.settings.project,
            "runs_known": len(result.runs),
            "runs_listed_changed": result.listed,
            "runs_to_ingest": dg.MetadataValue.json(result.pending),
            "runs_deleted": dg.MetadataValue.json(result.deleted),
            "full_listing": result.full_listing,
            "heartbeat_watermark": result.watermark or "",
            "api_calls": source.calls,
        }
    )


class WandbRunConfig(dg.Config):
    force: bool = False  # re-read runs whose files did not change


@dg.asset(
    key=WANDB_RUNS,
    pool=pools.INGEST,
    group_name="sources",
    kinds={"python", "parquet", "wandb"},
    owners=["team:diplo-pipeline"],
    partitions_def=wandb_runs_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "Offline WandB runs read from their `.wandb` files into the lake: `runs`, `run_config`, "
        "`run_summary`, `metric_points` (every logged value at full resolution), the run's artifacts, its "
        "logged W&B Tables' rows and its media files, one Parquet file per run and table, replaced "
        "atomically. Unchanged runs inside the requested range are skipped."
    ),
    deps=[WANDB_API_LISTING],
    check_specs=[
        dg.AssetCheckSpec(
            QUARANTINE_CHECK,
            asset=WANDB_RUNS,
            description="Damaged `.wandb` files: zero-filled or CRC-failing regions, undecodable records and "
            "values, unreadable files (each with its byte range); logged W&B Table files that are missing or "
            "damaged, and their rows or cells that do not fit.",
        )
    ],
)
def wandb_runs(context: dg.AssetExecutionContext, config: WandbRunConfig, diplo: DiploData, wandb_api: WandbApi):
    paths = diplo.paths()
    plan = run_partitions.plan_run_partitions(paths, list(context.partition_keys), wandb_api.configured,
                                              force=config.force)
    done = run_partitions.ingest_run_plan(paths, plan, wandb_api.source)
    if done.failed:
        # The runs that did come through are already in the lake; these are retried by the next sync.
        raise dg.Failure(
            description=f"{len(done.failed)} live WandB runs could not be fetched (the other {len(done.read)} were "
            "written): " + "; ".join(f"{run_id}: {why}" for run_id, why in sorted(done.failed.items())),
            metadata={"runs_failed": dg.MetadataValue.json(sorted(done.failed)), "runs_read": len(done.read)},
        )
    context.log.info(f"read {len(done.read)} runs, skipped {len(done.skipped)} unchanged, "
                     f"removed {len(done.removed)}")
    return dg.MaterializeResult(
        metadata={
            "runs_read": len(done.read),
            "runs_skipped_unchanged": len(done.skipped),
            "runs_removed": len(done.removed),
            "metric_points_written": done.metric_points,
            "dagster/row_count": done.metric_points,
            "dagster/column_schema": column_schema(METRIC_POINTS_SCHEMA),
            "preview": dg.MetadataValue.md(markdown_table(done.summary)),
        },
        check_results=[
            quarantine_check(QUARANTINE_CHECK, paths, "wandb",
                             "damaged regions, records and values (zeros, CRC, undecodable)")
        ],
    )
