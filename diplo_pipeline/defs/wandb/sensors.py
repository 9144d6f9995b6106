"""Discover new or changed runs (offline files by size and mtime; live runs by the API listing) and
request exactly those partitions.

A changed offline run is brought all the way to its page in one run: its raw partition, its per-run models and
the whole tables, reports and catalog built on them (`RUN_AND_WHAT_FOLLOWS`), as `diplo build` would. Left
to the automation sensor, one logged step took a run per level of the graph with a 30 s tick before each:
minutes on 50 runs (bench/sensor_path.py). A day-partitioned model could not share that run (it is partitioned
otherwise): none is built on `raw/wandb_runs` today, and one that were would follow on the automation's tick.

The sensors take the same resources as the assets they request (`diplo`, `wandb_api`), so a sensor looks
in the folders, and sees the live source on or off, exactly as the run it starts will.
"""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from diplo_pipeline.defs.keys import WANDB_API_LISTING, WANDB_RUNS
from diplo_pipeline.defs.partitions import contiguous_range_tags, wandb_runs_partitions
from diplo_pipeline.defs.resources import DiploData, WandbApi
from diplo_pipeline.defs.warehouse.project import PROJECT, asset_key
from diplo_pipeline.lib.wandb import api_sync, offline

OFFLINE_SENSOR = "wandb_offline_runs_sensor"
DAY_PARTITIONED = dg.AssetSelection.assets(*(asset_key(name) for name in PROJECT.partitioned_models("day")))
RUN_AND_WHAT_FOLLOWS = dg.AssetSelection.assets(WANDB_RUNS).downstream() - DAY_PARTITIONED
IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED]
# A run whose worker died (a killed process, a reboot) stays "started" on the embedded instance: after this
# long it no longer holds the sensor back.
IN_FLIGHT_AT_MOST = timedelta(hours=1)


def unfinished_run(instance: dg.DagsterInstance) -> str | None:
    """This sensor's run that is queued or in progress (created within IN_FLIGHT_AT_MOST), if any."""
    since = datetime.now(UTC) - IN_FLIGHT_AT_MOST
    found = instance.get_run_ids(dg.RunsFilter(statuses=IN_FLIGHT, tags={"dagster/sensor_name": OFFLINE_SENSOR},
                                               created_after=since), limit=1)
    return found[0] if found else None


@dg.sensor(
    name=OFFLINE_SENSOR,
    target=RUN_AND_WHAT_FOLLOWS,
    # A tick only stats the files (a thousand runs: a few milliseconds) and asks the instance for this
    # sensor's unfinished runs. A step a researcher just logged should reach its run page within about half a
    # minute of the write: this wait, the run queue's (5 s), then the run. The daemon looks at its sensors
    # every 5 s; at an interval of 5 the time since the last tick falls a hair short every other look, so 4
    # gives a tick at each.
    minimum_interval_seconds=4,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Finds `.wandb` files that are new or changed (size, mtime) and, in one run, ingests just those runs "
        "and updates what is built on them (their per-run tables, the whole tables, reports and catalog)."
    ),
)
def wandb_offline_runs_sensor(context: dg.SensorEvaluationContext, diplo: DiploData) -> dg.SensorResult:
    # One run at a time: a running run's file grows every few seconds, and a run asked for at each growth
    # would queue faster than they finish. What changes meanwhile goes in the next run, as one change.
    if waiting_for := unfinished_run(context.instance):
        return dg.SensorResult(skip_reason=(
            f"this sensor's run {waiting_for} has not finished: the changes since wait for it (a run left "
            f"unfinished by a worker that died stops counting after {IN_FLIGHT_AT_MOST}; delete it to go on now)"))
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
