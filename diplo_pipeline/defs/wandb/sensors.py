"""Discover new or changed offline runs (file size and mtime) and request exactly those partitions."""

import json

import dagster as dg

from diplo_pipeline.defs.partitions import contiguous_range_tags, wandb_runs_partitions
from diplo_pipeline.lib import wandb_ingest
from diplo_pipeline.lib.settings import DataPaths


@dg.sensor(
    name="wandb_offline_runs_sensor",
    target=dg.AssetSelection.assets(dg.AssetKey(["raw", "wandb_runs"])),
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Finds `.wandb` files that are new or changed (size, mtime) and ingests just those runs.",
)
def wandb_offline_runs_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    # Stat files only: a sensor lives in a long-running process and must never hold the catalog open.
    paths = DataPaths.from_env()
    discovered = wandb_ingest.discover(paths)
    requested: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    changes = [
        c.run_id
        for c in wandb_ingest.pending_changes(paths, discovered)
        if requested.get(c.run_id) != discovered[c.run_id].fingerprint() or c.reason == "idle"
    ]
    if not changes:
        return dg.SensorResult(skip_reason="no new or changed runs")
    known = context.instance.get_dynamic_partitions(wandb_runs_partitions.name)
    new_keys = [k for k in changes if k not in known]
    order = known + new_keys
    for run_id in changes:
        requested[run_id] = discovered[run_id].fingerprint()
    if len(changes) == 1:
        request = dg.RunRequest(partition_key=changes[0], run_key=f"{changes[0]}:{requested[changes[0]]}")
    else:
        request = dg.RunRequest(tags=contiguous_range_tags(order, changes))
    return dg.SensorResult(
        run_requests=[request],
        dynamic_partitions_requests=[wandb_runs_partitions.build_add_request(new_keys)] if new_keys else [],
        cursor=json.dumps(requested, sort_keys=True),
    )
