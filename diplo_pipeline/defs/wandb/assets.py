"""Raw WandB runs: one dynamic partition per run id, many partitions per Dagster run."""

import time

import dagster as dg

from diplo_pipeline.defs.metadata import column_schema
from diplo_pipeline.defs.partitions import wandb_runs_partitions
from diplo_pipeline.defs.quarantine import quarantine_check
from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.lib import wandb_ingest
from diplo_pipeline.lib.lake_schemas import METRIC_POINTS_SCHEMA
from diplo_pipeline.lib.metadata import markdown_table

QUARANTINE_CHECK = "no_quarantined_wandb_records"


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
    check_specs=[
        dg.AssetCheckSpec(
            QUARANTINE_CHECK,
            asset=["raw", "wandb_runs"],
            description="Damaged `.wandb` records (CRC failures, undecodable records, unreadable files).",
        )
    ],
)
def wandb_runs(context: dg.AssetExecutionContext, config: WandbRunConfig, diplo: DiploData):
    paths = diplo.paths()
    discovered = wandb_ingest.discover(paths)
    pending = {c.run_id for c in wandb_ingest.pending_changes(paths, discovered)}
    now = time.time()
    read, skipped, removed, summary = [], [], [], []
    for run_id in context.partition_keys:
        run = discovered.get(run_id)
        if run is None:
            wandb_ingest.remove_run(paths, run_id)
            removed.append(run_id)
            continue
        if run_id not in pending and not config.force:
            skipped.append(run_id)
            continue
        tables = wandb_ingest.ingest_run(paths, run, now=now)
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
            quarantine_check(QUARANTINE_CHECK, paths, "wandb", "damaged records (CRC, truncation, undecodable)")
        ],
    )
