"""Which requested run partitions to read from offline files, fetch live, skip or empty, and doing it.

A Dagster run covers a contiguous range of partitions (defs/partitions.py), so it holds runs of both
sources, unchanged runs and runs gone from every folder: each is sorted here, then ingested by its source.
Offline files are the source of record for any run they hold; a run only the live listing knows is the
live source's, and waits while that source is off.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.wandb import api_sync, offline
from diplo_pipeline.lib.wandb.api_client import WandbApiSource
from diplo_pipeline.lib.wandb.run_tables import RunFiles


@dataclass(frozen=True)
class RunPlan:
    """What to do with each requested partition; every key is in exactly one list, in request order."""

    read_offline: list[RunFiles] = field(default_factory=list)  # new or changed files (all of them: force)
    fetch_live: list[str] = field(default_factory=list)  # the live source's runs WandB changed (or: force)
    skip: list[str] = field(default_factory=list)  # unchanged, or live runs while the live source is off
    remove: list[str] = field(default_factory=list)  # in no folder and not the live source's: emptied


def plan_run_partitions(paths: DataPaths, partition_keys: list[str], live_configured: bool,
                        force: bool = False) -> RunPlan:
    """Sort the requested run ids by what the lake, the offline folders and the live listing say of them."""
    discovered = offline.discover(paths)
    changed = {change.run_id for change in offline.pending_changes(paths, discovered)}
    live_ids = api_sync.api_run_ids(paths)
    live_changed = set(api_sync.pending_api_runs(paths))
    plan = RunPlan()
    for run_id in partition_keys:
        run = discovered.get(run_id)
        if run is None and run_id in live_ids:
            due = live_configured and (run_id in live_changed or force)
            (plan.fetch_live if due else plan.skip).append(run_id)
        elif run is None:
            plan.remove.append(run_id)
        elif run_id in changed or force:
            plan.read_offline.append(run)
        else:
            plan.skip.append(run_id)
    return plan


@dataclass
class RunIngest:
    """What ingesting a plan did: the runs read (a summary row each), removed, skipped, and those that failed."""

    read: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # run id → why (secrets redacted)

    @property
    def metric_points(self) -> int:
        return sum(row["metric_points"] for row in self.summary)


def ingest_run_plan(paths: DataPaths, plan: RunPlan, live_source: Callable[[], WandbApiSource],
                    now: float | None = None) -> RunIngest:
    """Empty, read and fetch as planned. `live_source` is called only when there are live runs to fetch,
    so without any nothing touches the network. A live run that fails is reported in `failed`; the other
    runs still land."""
    now = time.time() if now is None else now
    done = RunIngest(skipped=list(plan.skip))
    for run_id in plan.remove:
        offline.remove_run(paths, run_id)
        done.removed.append(run_id)
    for run in plan.read_offline:
        tables = offline.ingest_run(paths, run, now=now)
        info = tables.runs.to_pylist()[0]
        done.read.append(run.run_id)
        done.summary.append({
            "run_id": run.run_id, "run_name": info["run_name"], "state": info["state"],
            "last_step": info["last_step"], "metric_points": tables.metric_points.num_rows,
            "tail": info["tail_status"], "corrupt_records": info["corrupt_records"],
        })
    if plan.fetch_live:
        _fetch_live(paths, plan.fetch_live, live_source(), done)
    return done


def _fetch_live(paths: DataPaths, run_ids: list[str], source: WandbApiSource, done: RunIngest) -> None:
    with tempfile.TemporaryDirectory(prefix="wandb-history-") as work:
        results = api_sync.ingest_api_runs(source, paths, run_ids, Path(work), workers=source.settings.concurrency)
    for run_id, ingest in results.items():
        if isinstance(ingest, Exception):
            done.failed[run_id] = source.redact(f"{type(ingest).__name__}: {ingest}")
        elif ingest is None:
            done.removed.append(run_id)  # deleted in WandB
        else:
            done.read.append(ingest.run_id)
            done.summary.append({
                "run_id": ingest.run_id, "state": ingest.state, "last_step": ingest.last_step,
                "metric_points": ingest.metric_points, "source": "api", "rows_fetched": ingest.rows_fetched,
                "incremental": ingest.incremental,
            })
