"""Raw WandB runs: one dynamic partition per run id, many partitions per Dagster run.

A run comes from offline `.wandb` files or from the live API (when WANDB_API_KEY is set); both write
the same four Parquet files per run, so nothing downstream knows or cares which.
"""

import tempfile
import time
from pathlib import Path

import dagster as dg

from diplo_pipeline.defs.asset_metadata import column_schema
from diplo_pipeline.defs.partitions import wandb_runs_partitions
from diplo_pipeline.defs.quarantine_checks import quarantine_check
from diplo_pipeline.defs.resources import DiploData, WandbApi
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.wandb import api_sync, offline
from diplo_pipeline.lib.wandb.schemas import METRIC_POINTS_SCHEMA

QUARANTINE_CHECK = "no_quarantined_wandb_records"
API_LISTING = dg.AssetKey(["raw", "wandb_api_listing"])


class WandbListingConfig(dg.Config):
    full_listing: bool = False  # also list every run now to find runs deleted in WandB


@dg.asset(
    key=API_LISTING,
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
        return dg.MaterializeResult(metadata={"live_source": "off: WANDB_API_KEY is not set"})
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
    key=["raw", "wandb_runs"],
    group_name="sources",
    kinds={"python", "parquet", "wandb"},
    owners=["team:diplo-pipeline"],
    partitions_def=wandb_runs_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "Offline WandB runs read from their `.wandb` files into the lake: `runs`, `run_config`, "
        "`run_summary` and `metric_points` (every logged value at full resolution), one Parquet file per "
        "run and table, replaced atomically. Unchanged runs inside the requested range are skipped."
    ),
    deps=[API_LISTING],
    check_specs=[
        dg.AssetCheckSpec(
            QUARANTINE_CHECK,
            asset=["raw", "wandb_runs"],
            description="Damaged `.wandb` files: zero-filled or CRC-failing regions, undecodable records and values, "
                        "unreadable files (each with its byte range).",
        )
    ],
)
def wandb_runs(context: dg.AssetExecutionContext, config: WandbRunConfig, diplo: DiploData, wandb_api: WandbApi):
    paths = diplo.paths()
    discovered = offline.discover(paths)
    pending = {c.run_id for c in offline.pending_changes(paths, discovered)}
    live_ids = api_sync.api_run_ids(paths)
    live_pending = set(api_sync.pending_api_runs(paths))
    now = time.time()
    read, skipped, removed, summary = [], [], [], []
    live_todo = []
    for run_id in context.partition_keys:
        run = discovered.get(run_id)
        if run is None and run_id in live_ids:
            if wandb_api.configured and (run_id in live_pending or config.force):
                live_todo.append(run_id)
            else:
                skipped.append(run_id)
            continue
        if run is None:
            offline.remove_run(paths, run_id)
            removed.append(run_id)
            continue
        if run_id not in pending and not config.force:
            skipped.append(run_id)
            continue
        tables = offline.ingest_run(paths, run, now=now)
        read.append(run_id)
        info = tables.runs.to_pylist()[0]
        summary.append(
            {
                "run_id": run_id,
                "run_name": info["run_name"],
                "state": info["state"],
                "last_step": info["last_step"],
                "metric_points": tables.metric_points.num_rows,
                "tail": info["tail_status"],
                "corrupt_records": info["corrupt_records"],
            }
        )
    failed: dict[str, str] = {}
    if live_todo:
        source = wandb_api.source()
        with tempfile.TemporaryDirectory(prefix="wandb-history-") as work:
            results = api_sync.ingest_api_runs(source, paths, live_todo, Path(work),
                                                       workers=source.settings.concurrency)
        for run_id, ingest in results.items():
            if isinstance(ingest, Exception):
                failed[run_id] = source.redact(f"{type(ingest).__name__}: {ingest}")
                continue
            if ingest is None:
                removed.append(run_id)  # deleted in WandB
                continue
            read.append(ingest.run_id)
            summary.append({"run_id": ingest.run_id, "state": ingest.state, "last_step": ingest.last_step,
                            "metric_points": ingest.metric_points, "source": "api",
                            "rows_fetched": ingest.rows_fetched, "incremental": ingest.incremental})
    if failed:
        # The runs that did come through are already in the lake; these are retried by the next sync.
        raise dg.Failure(
            description=f"{len(failed)} live WandB runs could not be fetched (the other {len(read)} were written): "
            + "; ".join(f"{run_id}: {why}" for run_id, why in sorted(failed.items())),
            metadata={"runs_failed": dg.MetadataValue.json(sorted(failed)), "runs_read": len(read)},
        )
    context.log.info(f"read {len(read)} runs, skipped {len(skipped)} unchanged, removed {len(removed)}")
    return dg.MaterializeResult(
        metadata={
            "runs_read": len(read),
            "runs_skipped_unchanged": len(skipped),
            "runs_removed": len(removed),
            "metric_points_written": sum(r["metric_points"] for r in summary),
            "dagster/row_count": sum(r["metric_points"] for r in summary),
            "dagster/column_schema": column_schema(METRIC_POINTS_SCHEMA),
            "preview": dg.MetadataValue.md(markdown_table(summary)),
        },
        check_results=[
            quarantine_check(QUARANTINE_CHECK, paths, "wandb", "damaged regions, records and values (zeros, CRC, undecodable)")
        ],
    )
