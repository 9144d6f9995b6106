"""Offline WandB runs → the raw lake tables `runs`, `config`, `summary` and `metric_points`.

A run may span several `.wandb` files: a run resumed after a crash (or re-opened by an evaluation job)
writes a new `offline-run-*` folder with the same run id. The files are read in start-time order and
rows keep a global write sequence, so "the later write wins" can be decided downstream.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from diplo_pipeline.lib.lake.quarantine import QuarantinedItem
from diplo_pipeline.lib.wandb.artifacts import artifacts_table
from diplo_pipeline.lib.wandb.logged_tables import MediaRef, media_refs, media_table, tables_table
from diplo_pipeline.lib.wandb.points import history_points, kv_table, step_facts
from diplo_pipeline.lib.wandb.records import TRUNCATED, NotAWandbFile, WandbFile, read_wandb_file
from diplo_pipeline.lib.wandb.schemas import RUNS_SCHEMA
from diplo_pipeline.lib.wandb.values import as_int64, to_datetime

RUN_FILE = re.compile(r"^run-(?P<run_id>[A-Za-z0-9_-]+)\.wandb$")
SWEEP_NAME = re.compile(r"^(?P<sweep>.+)-(?P<letter>[A-H])-(?P<ts>\d{8}-\d{6})$")
SWEEP_TAG = re.compile(r"^(?P<prefix>.+?)-(?P<letter>[A-H])(?:-[A-Za-z0-9_.-]+)?$")
KILLED_EXIT_CODES = {130, 137, 143, 255}  # SIGINT / SIGKILL / SIGTERM / wandb's "interrupted"

@dataclass(frozen=True)
class RunFiles:
    run_id: str
    files: tuple[Path, ...]

    def fingerprint(self) -> str:
        """Changes whenever any file of the run is added, removed, grows or is rewritten."""
        parts = []
        for path in self.files:
            st = path.stat()
            parts.append(f"{path}|{st.st_size}|{st.st_mtime_ns}")
        return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16]

    def last_modified(self) -> float:
        return max(p.stat().st_mtime for p in self.files)


def discover_runs(roots: Iterable[Path]) -> dict[str, RunFiles]:
    """Find `run-<id>.wandb` files anywhere under the roots, grouped by run id."""
    found: dict[str, set[Path]] = {}
    for root in roots:
        if root.is_file() and root.suffix == ".wandb":
            candidates = [root]
        elif root.is_dir():
            candidates = root.rglob("*.wandb")
        else:
            continue
        for path in candidates:
            if "latest-run" in path.parts:  # WandB's convenience link to a run folder found anyway
                continue
            match = RUN_FILE.match(path.name)
            run_id = match["run_id"] if match else path.stem
            found.setdefault(run_id, set()).add(path.resolve())
    return {rid: RunFiles(rid, tuple(sorted(paths))) for rid, paths in sorted(found.items())}


@dataclass
class RunTables:
    run_id: str
    files: list[WandbFile]  # their fold states let the next read resume
    incremental: bool  # True when only records written since the previous read were parsed
    runs: pa.Table
    config: pa.Table
    summary: pa.Table
    metric_points: pa.Table
    artifacts: pa.Table
    tables: pa.Table
    media: pa.Table
    quarantined: list[QuarantinedItem] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "runs": self.runs.num_rows,
            "config": self.config.num_rows,
            "summary": self.summary.num_rows,
            "metric_points": self.metric_points.num_rows,
            "artifacts": self.artifacts.num_rows,
            "tables": self.tables.num_rows,
            "media": self.media.num_rows,
            "quarantined": len(self.quarantined),
        }


def _state(last: WandbFile, idle_s: float, idle_limit_s: float) -> str:
    if last.has_exit:
        if last.exit_code == 0:
            return "finished"
        return "killed" if last.exit_code in KILLED_EXIT_CODES or last.exit_code < 0 else "crashed"
    # No exit record: a writer that is still appending is running, one that stopped has crashed.
    return "running" if idle_s < idle_limit_s else "crashed"


def sweep_identity(name: str | None, tags: list[str]) -> tuple[str | None, str | None]:
    """Sweep membership from the name, then a tag (issue 4 adds Axiom `sweep_run_started`, the authority)."""
    if name and (m := SWEEP_NAME.match(name)):
        return m["sweep"], m["letter"]
    for tag in tags:
        if m := SWEEP_TAG.match(tag):
            return m["prefix"], m["letter"]
    return None, None


def run_kind(name: str | None, tags: list[str], config: dict, has_train_rows: bool) -> str:
    if "evaluation" in tags or (name or "").startswith("eval-") or "checkpoint_path" in config:
        return "evaluation"
    if has_train_rows or "total_steps" in config:
        return "training"
    return "other"


def _config_value(config: dict, key: str, kind: type) -> Any:
    value = config.get(key)
    if isinstance(value, dict) and "value" in value:  # API-shaped config {"value": x, "desc": ...}
        value = value["value"]
    if value is None or isinstance(value, bool):
        return None
    try:
        converted = kind(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf), float(10**400)
        return None
    return as_int64(converted) if kind is int else converted


CONFIG_COLUMNS = {
    "base_model_id": str, "lora_rank": int, "learning_rate": float, "kl_beta": float, "loss_type": str,
    "total_steps": int, "num_groups_per_step": int, "samples_per_group": int, "rollout_horizon_years": int,
}


def config_columns(config: dict) -> dict[str, Any]:
    """The `runs` columns that come from the run's config (WAREHOUSE.md `runs`)."""
    return {name: _config_value(config, name, kind) for name, kind in CONFIG_COLUMNS.items()}


@dataclass
class PreviousRead:
    """What an earlier read of a run left behind, so a run that is still being written is not re-read."""

    files: list[dict]  # per file: path, size, mtime_ns, fold (WandbFile.fold_state())
    points: pa.Table  # the metric_points written then
    rows: int  # history rows read then (the next write_seq)


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _read_files(run: RunFiles, previous: PreviousRead | None) -> tuple[list[WandbFile], bool, list[QuarantinedItem]]:
    """Every file of the run, each read from where the previous read stopped when it only grew since.

    Returns the files, whether the previous read's rows are still valid (every file unchanged or grown),
    and the files that could not be read at all.
    """
    earlier = {f["path"]: f for f in previous.files} if previous else {}
    resumable = bool(earlier) and set(earlier) == {str(p) for p in run.files}
    for path in run.files:
        old = earlier.get(str(path))
        size, _ = _stat(path)
        # Damage before where the last read stopped would not be read again: such a file is read whole,
        # so its damage is found again (and is gone once the file is repaired).
        if resumable and (old is None or size < old["size"] or old["fold"].get("damaged")):
            resumable = False  # rewritten or damaged since: read everything again
    files: list[WandbFile] = []
    unreadable: list[QuarantinedItem] = []
    for path in run.files:
        old = earlier.get(str(path)) if resumable else None
        try:
            if old and _stat(path) == (old["size"], old["mtime_ns"]) and old["fold"].get("tail") == "clean":
                wf = WandbFile.from_fold(path, old["fold"])  # unchanged since: nothing to parse
            else:  # grown, or its tail must be looked at again (zeros or a record not yet finished)
                wf = read_wandb_file(path, resume=old["fold"] if old else None)
        except (NotAWandbFile, OSError) as exc:
            unreadable.append(QuarantinedItem(str(path), None, f"unreadable .wandb file: {exc}"))
            continue
        files.append(wf)
    # Resume segments in the order they were written.
    files.sort(key=lambda f: (f.start_time if f.start_time is not None else math.inf, str(f.path)))
    return files, resumable, unreadable


MAX_QUARANTINED_PER_FILE = 50  # a badly damaged file should not produce megabytes of notes


def quarantined_items(wf: WandbFile, running: bool) -> list[QuarantinedItem]:
    """What one file sets aside: every damaged region and undecodable record or value, with its byte range.

    A file that ends inside a record is only reported once its run has stopped: while the run is being
    written that is the record in progress, not damage.
    """
    items = [QuarantinedItem(str(wf.path), None, d.reason(), d.raw) for d in wf.stats.damage
             if not (running and d.kind == TRUNCATED)]
    items += [QuarantinedItem(str(wf.path), None, reason, raw) for reason, raw in wf.summary_problems]
    if len(items) > MAX_QUARANTINED_PER_FILE:
        rest = items[MAX_QUARANTINED_PER_FILE - 1:]
        items = items[: MAX_QUARANTINED_PER_FILE - 1] + [QuarantinedItem(
            str(wf.path), None, f"and {len(rest)} more damaged regions or values like those above: restore the "
            "file from a good copy and build again")]
    return items


def read_run(
    run: RunFiles, *, now: float | None = None, idle_limit_s: float = 900.0, previous: PreviousRead | None = None
) -> RunTables:
    """Read the files of a run and build its raw tables. Damaged input is quarantined, never fatal.

    With `previous`, files that only grew since that read are read from where it stopped, and its
    metric points are kept: a run that is still training costs only its new records.
    """
    now = time.time() if now is None else now
    files, resumed, quarantined = _read_files(run, previous)
    first_seq = previous.rows if resumed else 0
    new_points, new_rows = history_points(run.run_id, [wf.history for wf in files], first_seq)
    metric_points = pa.concat_tables([previous.points, new_points]) if resumed else new_points
    last_step, steps_logged, last_ts = step_facts(metric_points)
    has_train_rows = steps_logged > 0

    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    for wf in files:  # later segments override earlier ones
        config.update(wf.config)
        summary.update(wf.summary)
    last = files[-1] if files else None
    name = next((f.display_name for f in reversed(files) if f.display_name), None)
    tags = last.tags if last else []
    starts = [f.start_time for f in files if f.start_time is not None]
    created = min(starts) if starts else None
    exit_runtime = sum(f.exit_runtime_s or 0.0 for f in files)
    runtime = (last_ts - created) if (last_ts is not None and created is not None) else None
    if runtime is None or exit_runtime > runtime:
        runtime = exit_runtime or runtime
    state = _state(last, now - run.last_modified(), idle_limit_s) if last else "unreadable"
    finished_at = created + runtime if (state != "running" and created is not None and runtime) else None
    sweep_name, letter = sweep_identity(name, tags)
    for wf in files:
        quarantined.extend(quarantined_items(wf, running=state == "running"))
    row = {
        "run_id": run.run_id,
        "run_name": name,
        "project": next((f.project for f in reversed(files) if f.project), None),
        "entity": next((f.entity for f in reversed(files) if f.entity), None),
        "state": state,
        "created_at": to_datetime(created),
        "finished_at": to_datetime(finished_at),
        "last_timestamp": to_datetime(last_ts),
        "runtime_s": runtime,
        "tags": tags,
        "run_kind": run_kind(name, tags, config, has_train_rows),
        "sweep_name": sweep_name,
        "sweep_run_letter": letter,
        **config_columns(config),
        "last_step": last_step,
        "steps_logged": steps_logged,
        "config": json.dumps(config, sort_keys=True, default=str),
        "summary": json.dumps(summary, sort_keys=True, default=str),
        "source": "offline",
        "source_path": str(last.path) if last else str(run.files[-1]),
        "source_files": [str(p) for p in run.files],
        "group_name": last.group if last else None,
        "job_type": last.job_type if last else None,
        "notes": last.notes if last else None,
        "exit_code": last.exit_code if last else None,
        "resumed": len(files) > 1 or any(f.resumed for f in files),
        "history_rows": first_seq + new_rows,
        "tail_status": last.stats.tail if last else None,
        # Damaged regions, records that do not decode, and records some of whose values do not.
        "corrupt_records": sum(f.stats.corrupt_records + f.stats.unparseable_records + f.stats.bad_value_records
                               + len(f.summary_problems) for f in files),
        "writer_version": last.writer_version if last else None,
        "metric_definitions": json.dumps([m for f in files for m in f.metrics]),
        "ingested_at": datetime.now(tz=UTC),
    }
    runs = pa.Table.from_pylist([row], schema=RUNS_SCHEMA)
    refs = media_refs(metric_points)
    tables, bad_tables = tables_table(run.run_id, refs, lambda ref: _media_file(files, ref))
    quarantined.extend(bad_tables)
    return RunTables(
        run_id=run.run_id,
        files=files,
        incremental=resumed,
        runs=runs,
        config=kv_table(run.run_id, config),
        summary=kv_table(run.run_id, summary),
        metric_points=metric_points,
        artifacts=artifacts_table(run.run_id, [a for f in files for a in f.artifacts], "offline"),
        tables=tables,
        media=media_table(run.run_id, refs, lambda ref: _media_path(files, ref, existing=True)),
        quarantined=quarantined,
    )


def _media_path(files: list[WandbFile], ref: MediaRef, existing: bool = False) -> str | None:
    """Where a media file of the run is on disk: `files/<path>` beside the `.wandb` file that logged it."""
    if not 0 <= ref.segment < len(files):
        return None
    path = files[ref.segment].path.parent / "files" / ref.path
    return str(path) if not existing or path.is_file() else None


def _media_file(files: list[WandbFile], ref: MediaRef) -> tuple[bytes | None, str]:
    where = _media_path(files, ref) or f"files/{ref.path} of segment {ref.segment}"
    try:
        return Path(where).read_bytes(), where
    except OSError:
        return None, where
