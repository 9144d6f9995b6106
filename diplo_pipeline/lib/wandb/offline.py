"""One WandB run → its raw lake partition, written atomically, plus the bookkeeping for incrementality."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from diplo_pipeline.lib.lake.io import read_json, read_parquet, write_json_atomic, write_parquet_atomic
from diplo_pipeline.lib.lake.quarantine import write_quarantine
from diplo_pipeline.lib.settings import DataPaths, running_idle_seconds
from diplo_pipeline.lib.wandb.run_tables import PreviousRead, RunFiles, RunTables, discover_runs, read_run

RAW_WANDB_TABLES = {"runs": "runs", "config": "config", "summary": "summary", "metric_points": "metric_points",
                    "artifacts": "artifacts", "tables": "tables", "media": "media"}


def state_path(paths: DataPaths, run_id: str) -> Path:
    return paths.state / "wandb" / f"{run_id}.json"


def partition_files(paths: DataPaths, run_id: str) -> list[Path]:
    return [paths.raw / "wandb" / folder / f"{run_id}.parquet" for folder in RAW_WANDB_TABLES.values()]


@dataclass(frozen=True)
class RunChange:
    run_id: str
    reason: str  # new | changed | idle (a running run whose writer stopped: it is now crashed)


def pending_changes(paths: DataPaths, runs: dict[str, RunFiles], now: float | None = None) -> list[RunChange]:
    """Runs whose files differ from what the lake holds, or whose state would now read differently."""
    now = time.time() if now is None else now
    idle_limit = running_idle_seconds()
    changes = []
    for run_id, run in runs.items():
        stored = read_json(state_path(paths, run_id), None)
        if stored is None or not all(p.exists() for p in partition_files(paths, run_id)):
            changes.append(RunChange(run_id, "new"))
        elif stored.get("fingerprint") != run.fingerprint():
            changes.append(RunChange(run_id, "changed"))
        elif stored.get("state") == "running" and now - run.last_modified() >= idle_limit:
            changes.append(RunChange(run_id, "idle"))
    return changes


def _previous_read(paths: DataPaths, run_id: str) -> PreviousRead | None:
    """What the last ingest of this run read, when it can be resumed (the run was still being written)."""
    stored = read_json(state_path(paths, run_id), None)
    points = paths.raw / "wandb" / "metric_points" / f"{run_id}.parquet"
    if not stored or not stored.get("resume") or not points.exists():
        return None
    if any("artifacts" not in f["fold"] for f in stored["resume"]):
        return None  # read before artifact records were kept: read again, whole
    return PreviousRead(stored["resume"], read_parquet(points), stored["history_rows"])


def ingest_run(paths: DataPaths, run: RunFiles, now: float | None = None) -> RunTables:
    """Read a run and replace its partition: every table file is swapped in whole, never appended to.

    A run that is still being written keeps where each of its files was read up to, so the next ingest
    parses only what was appended since (its earlier rows come from the Parquet already written).
    """
    fingerprint = run.fingerprint()  # taken before reading: a write during the read shows up next time
    stats = {str(p): p.stat() for p in run.files}
    tables = read_run(run, now=now, idle_limit_s=running_idle_seconds(), previous=_previous_read(paths, run.run_id))
    for name, folder in RAW_WANDB_TABLES.items():
        write_parquet_atomic(getattr(tables, name), paths.raw / "wandb" / folder / f"{run.run_id}.parquet")
    write_quarantine(paths.quarantine, "wandb", run.run_id, tables.quarantined)
    state = tables.runs.column("state")[0].as_py()
    resume = [
        {"path": str(wf.path), "size": stats[str(wf.path)].st_size, "mtime_ns": stats[str(wf.path)].st_mtime_ns,
         "fold": wf.fold_state()}
        for wf in tables.files
    ] if state == "running" else None  # a finished or crashed run is not expected to grow
    write_json_atomic(
        {
            "fingerprint": fingerprint,
            "files": [str(p) for p in run.files],
            "state": state,
            "history_rows": tables.runs.column("history_rows")[0].as_py(),
            "incremental": tables.incremental,
            "resume": resume,
            **tables.counts,
        },
        state_path(paths, run.run_id),
    )
    return tables


def remove_run(paths: DataPaths, run_id: str) -> None:
    """Drop a run whose files are gone from every source folder."""
    for path in partition_files(paths, run_id):
        path.unlink(missing_ok=True)
    state_path(paths, run_id).unlink(missing_ok=True)
    (paths.quarantine / "wandb" / f"{run_id}.ndjson").unlink(missing_ok=True)


def ingested_run_ids(paths: DataPaths) -> set[str]:
    """Runs ingested from offline files (the live WandB source keeps its own, `source: api`)."""
    return {p.stem for p in (paths.state / "wandb").glob("*.json") if read_json(p, {}).get("source") != "api"}


def discover(paths: DataPaths) -> dict[str, RunFiles]:
    return discover_runs(paths.wandb_dirs)
