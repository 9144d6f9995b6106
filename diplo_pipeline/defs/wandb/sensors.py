"""Discover new or changed runs (offline files by size and mtime; live runs by the API listing) and
request exactly those partitions.

The sensors take the same resources as the assets they request (`diplo`, `wandb_api`), so a sensor looks
in the folders, and sees the live source on or off, exactly as the run it starts will.
"""

import json

import dagster as dg

from diplo_pipeline.defs.keys import WANDB_API_LISTING, WANDB_RUNS
from diplo_pipeline.defs.partitions import contiguous_range_tags, wandb_runs_partitions
from diplo_pipeline.defs.resources import DiploData, WandbApi
from diplo_pipeline.lib.wandb import api_sync, offline


@dg.sensor(
    name="wandb_offline_runs_sensor",
    target=dg.AssetSelection.assets(WANDB_RUNS),
    # A tick only stats the files (a thousand runs: a few milliseconds). A step a researcher just logged
    # should reach its run page in about half a minute (this tick, the ingest, then the automation's tick):
    # a 60 s tick alone would use it up.
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Finds `.wandb` files that are new or changed (size, mtime) and ingests just those runs.",
)
def wandb_offline_runs_sensor(context: dg.SensorEvaluationContext, diplo: DiploData) -> dg.SensorResult:
    # Stat files only: a sensor lives in a long-running process and must never hold the catalog open.
    paths = diplo.paths()
    discovered = offline.discover(paths)
    requested: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    changes = [
        c.run_id
        for c in offline.pending_changes(paths, discovered)
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


@dg.sensor(
    name="wandb_api_sensor",
    target=dg.AssetSelection.assets(WANDB_API_LISTING, WANDB_RUNS),
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Live WandB (only when WANDB_API_KEY is set): asks for an incremental listing, then ingests the runs "
        "the listing found new or changed. The sensor itself never calls WandB; the assets do."
    ),
)
def wandb_api_sensor(context: dg.SensorEvaluationContext, diplo: DiploData, wandb_api: WandbApi) -> dg.SensorResult:
    if not wandb_api.configured:
        return dg.SensorResult(skip_reason=f"live WandB is off: {wandb_api.api_key_variable} is not set")
    pending = api_sync.pending_api_runs(diplo.paths())
    known = context.instance.get_dynamic_partitions(wandb_runs_partitions.name)
    pending = [run_id for run_id in pending if run_id in known]
    if pending and context.cursor != ",".join(pending):
        # The last listing found work: ingest it before listing again.
        return dg.SensorResult(
            run_requests=[dg.RunRequest(asset_selection=[WANDB_RUNS], tags=contiguous_range_tags(known, pending))],
            cursor=",".join(pending),
        )
    return dg.SensorResult(run_requests=[dg.RunRequest(asset_selection=[WANDB_API_LISTING])], cursor="")
