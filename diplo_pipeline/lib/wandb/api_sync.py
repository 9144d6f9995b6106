"""Live WandB runs → the same raw lake tables as offline runs, fetched incrementally.

Two steps, like the offline source. The listing asks for runs whose `heartbeatAt` is at or after the stored
watermark, plus every run still running, and keeps what it learns (config and summary come in bulk with
the listing) in `lake/_state/wandb_api/listing.json`; now and then a full listing finds runs deleted in
WandB. Ingesting a run then writes its Parquet files exactly as an offline run does, with
`source = 'api'`. A run that is still running is extended from the step after the last one stored, so a
sync costs only the new steps.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from diplo_pipeline.lib.lake.io import read_json, read_parquet, write_json_atomic, write_parquet_atomic
from diplo_pipeline.lib.lake.quarantine import QuarantinedItem, write_quarantine
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.wandb.api_client import WandbApiSource
from diplo_pipeline.lib.wandb.api_errors import WandbAuthError
from diplo_pipeline.lib.wandb.api_runs import ApiRun
from diplo_pipeline.lib.wandb.artifacts import artifacts_table
from diplo_pipeline.lib.wandb.logged_tables import MediaRef, media_refs, media_table, tables_table
from diplo_pipeline.lib.wandb.offline import RAW_WANDB_TABLES, partition_files, remove_run, state_path
from diplo_pipeline.lib.wandb.points import history_points, kv_table, step_facts
from diplo_pipeline.lib.wandb.run_tables import config_columns, run_kind, sweep_identity
from diplo_pipeline.lib.wandb.schemas import RUNS_SCHEMA
from diplo_pipeline.lib.wandb.values import as_int64, finite_number, to_datetime


def listing_path(paths: DataPaths) -> Path:
    return paths.state / "wandb_api" / "listing.json"


def wandb_time(raw: str) -> datetime | None:
    """WandB's timestamp strings (`2025-12-22T19:14:08Z`, sometimes without the zone: it is UTC)."""
    if not raw:
        return None
    parsed = datetime.fromisoformat(raw)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class Listing:
    """What the live source knows about the project's runs between syncs."""

    watermark: str | None = None  # the latest heartbeatAt seen, exactly as WandB wrote it
    last_full_listing: float | None = None
    runs: dict[str, ApiRun] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)  # gone from WandB, data still to be removed

    @classmethod
    def load(cls, paths: DataPaths) -> Listing:
        data = read_json(listing_path(paths), {})
        return cls(
            watermark=data.get("watermark"),
            last_full_listing=data.get("last_full_listing"),
            runs={k: ApiRun.from_json(v) for k, v in (data.get("runs") or {}).items()},
            deleted=list(data.get("deleted") or []),
        )

    def save(self, paths: DataPaths) -> None:
        write_json_atomic(
            {
                "watermark": self.watermark,
                "last_full_listing": self.last_full_listing,
                "runs": {k: v.to_json() for k, v in sorted(self.runs.items())},
                "deleted": sorted(set(self.deleted)),
            },
            listing_path(paths),
        )


@dataclass
class ListingResult:
    listed: int  # runs the incremental listing returned
    full_listing: bool
    pending: list[str]  # runs to ingest or remove
    deleted: list[str]
    watermark: str | None
    runs: list[str]  # every run the listing now knows


def refresh_listing(source: WandbApiSource, paths: DataPaths, now: float | None = None,
                    force_full: bool = False) -> ListingResult:
    """One incremental listing (and a full one when due); returns the runs that need ingesting."""
    now = time.time() if now is None else now
    listing = Listing.load(paths)
    was_running = [run_id for run_id, run in listing.runs.items() if run.state == "running"]
    changed = source.list_runs(listing.watermark, also=was_running)
    for run in changed:
        listing.runs[run.run_id] = run
        if run.heartbeat_at and (
            listing.watermark is None or wandb_time(run.heartbeat_at) > wandb_time(listing.watermark)
        ):
            listing.watermark = run.heartbeat_at
    full_due = (listing.last_full_listing is None
                or now - listing.last_full_listing >= source.settings.full_listing_every_s)
    deleted: list[str] = []
    full = force_full or (full_due and listing.last_full_listing is not None)
    if full:
        everything = {run.run_id: run for run in source.list_runs(None, full=False)}
        present = set(everything)
        for run_id, light in everything.items():  # a state or heartbeat the incremental listing missed
            known = listing.runs.get(run_id)
            if known and (known.state, known.heartbeat_at) != (light.state, light.heartbeat_at):
                listing.runs[run_id] = replace(known, state=light.state, heartbeat_at=light.heartbeat_at)
        deleted = sorted(set(listing.runs) - present)
        for run_id in deleted:
            del listing.runs[run_id]
        listing.deleted = sorted(set(listing.deleted) | set(deleted))
    if full_due or force_full:
        listing.last_full_listing = now  # the first listing is complete by construction
    listing.save(paths)
    return ListingResult(len(changed), full, pending_api_runs(paths, listing), deleted, listing.watermark,
                         sorted(listing.runs))


def _stored(paths: DataPaths, run_id: str) -> dict[str, Any] | None:
    stored = read_json(state_path(paths, run_id), None)
    return stored if stored and stored.get("source") == "api" else None


def pending_api_runs(paths: DataPaths, listing: Listing | None = None) -> list[str]:
    """Listed runs whose lake copy is missing or older than what WandB reports, and deleted runs."""
    listing = listing or Listing.load(paths)
    pending = [run_id for run_id in listing.deleted if _stored(paths, run_id)]
    for run_id, run in listing.runs.items():
        stored = read_json(state_path(paths, run_id), None)
        if stored and stored.get("source") != "api":
            continue  # the run's own files are in an offline folder: they are the source of record
        if (
            stored is None
            or not all(p.exists() for p in partition_files(paths, run_id))
            or stored.get("heartbeat_at") != run.heartbeat_at
            or stored.get("state") != run.state
        ):
            pending.append(run_id)
    return sorted(set(pending))


def api_run_ids(paths: DataPaths) -> set[str]:
    """Runs the live source is responsible for (listed now, or ingested and not yet removed)."""
    listing = Listing.load(paths)
    return set(listing.runs) | {r for r in listing.deleted if _stored(paths, r)}


@dataclass
class ApiIngest:
    run_id: str
    state: str
    rows_fetched: int  # history rows asked of WandB this time
    metric_points: int  # in the lake now
    incremental: bool
    last_step: int | None
    quarantined: int


def ingest_api_runs(source: WandbApiSource, paths: DataPaths, run_ids: list[str], work_dir: Path,
                    workers: int = 1) -> dict[str, ApiIngest | Exception | None]:
    """Bring live runs up to date, `workers` at a time. Per run: its summary, None when it was deleted in
    WandB (its data is removed), or the exception that stopped it (the others still land). A refused
    key stops everything: no other run would get through either."""
    listing = Listing.load(paths)
    for run_id in run_ids:
        if run_id not in listing.runs:
            remove_api_run(paths, run_id)
    todo = [listing.runs[r] for r in run_ids if r in listing.runs]
    handles = source.open_runs(todo) if todo else {}

    def one(run: ApiRun) -> ApiIngest | Exception:
        try:
            handle = handles.get(run.run_id)
            if handle is None:
                raise LookupError(f"run {run.run_id} was listed but WandB no longer returns it")
            return ingest_api_run(source, paths, run, handle, work_dir)
        except WandbAuthError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported per run, with its message
            return exc

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        done = dict(zip([r.run_id for r in todo], pool.map(one, todo), strict=True))
    return {run_id: done.get(run_id) for run_id in run_ids}


def ingest_api_run(source: WandbApiSource, paths: DataPaths, run: ApiRun, handle: Any, work_dir: Path) -> ApiIngest:
    """Bring one live run's partition up to date."""
    run_id = run.run_id
    stored = _stored(paths, run_id)
    points_path = paths.raw / "wandb" / "metric_points" / f"{run_id}.parquet"
    # A run that was running and still is: only steps after the last one stored are new.
    resume = stored is not None and stored.get("state") == "running" and run.state == "running" and points_path.exists()
    after_step = stored.get("last_wandb_step") if resume else (-1 if run.state == "running" else None)
    if resume and run.last_step is not None and after_step is not None and run.last_step <= after_step:
        raw_rows: list[dict[str, Any]] = []  # the server holds no newer step: no history request at all
    else:
        raw_rows = source.history(run, handle, after_step=after_step, work_dir=work_dir)
    rows, quarantined = _valid_rows(raw_rows, run, source.settings.host)
    first_seq = stored["history_rows"] if resume else 0
    new_points, new_rows = history_points(run_id, [rows], first_seq)
    points = pa.concat_tables([read_parquet(points_path), new_points]) if resume else new_points
    last_wandb_step = max([r["_step"] for r in rows], default=stored.get("last_wandb_step") if resume else None)
    refs = media_refs(points)
    logged_tables, bad_tables = _logged_tables(source, paths, run, handle, refs, work_dir, resume)
    quarantined.extend(bad_tables)
    tables = {
        "runs": _runs_table(run, points, first_seq + new_rows, source.settings.host),
        "config": kv_table(run_id, run.config),
        "summary": kv_table(run_id, run.summary),
        "metric_points": points,
        "artifacts": artifacts_table(run_id, source.artifacts(handle), "api"),
        "tables": logged_tables,
        "media": media_table(run_id, refs, lambda _ref: None),  # on WandB's storage, not on this machine
    }
    for name, folder in RAW_WANDB_TABLES.items():
        write_parquet_atomic(tables[name], paths.raw / "wandb" / folder / f"{run_id}.parquet")
    write_quarantine(paths.quarantine, "wandb", run_id, quarantined)
    write_json_atomic(
        {
            "source": "api",
            "heartbeat_at": run.heartbeat_at,
            "state": run.state,
            "last_wandb_step": last_wandb_step,
            "history_rows": first_seq + new_rows,
            "metric_points": points.num_rows,
            "quarantined": len(quarantined),
        },
        state_path(paths, run_id),
    )
    last_step = tables["runs"].column("last_step")[0].as_py()
    return ApiIngest(run_id, run.state, len(raw_rows), points.num_rows, resume, last_step, len(quarantined))


def _logged_tables(source: WandbApiSource, paths: DataPaths, run: ApiRun, handle: Any, refs: list[MediaRef],
                   work_dir: Path, resume: bool) -> tuple[pa.Table, list[QuarantinedItem]]:
    """The rows of the run's logged W&B Tables, each table file downloaded once: a run still being written
    keeps the tables already stored and fetches only those logged since."""
    stored_path = paths.raw / "wandb" / "tables" / f"{run.run_id}.parquet"
    kept = read_parquet(stored_path) if resume and stored_path.exists() else None
    done = set(kept["table_path"].to_pylist()) if kept is not None else set()
    url = f"{source.settings.host}/{run.entity}/{run.project}/runs/{run.run_id}/files"

    def load(ref: MediaRef) -> tuple[bytes | None, str]:
        return source.run_file(handle, ref.path, work_dir), f"{url}/{ref.path}"

    new, quarantined = tables_table(run.run_id, [r for r in refs if r.path not in done], load)
    return (pa.concat_tables([kept, new]) if kept is not None else new), quarantined


def _valid_rows(raw_rows: list[dict[str, Any]], run: ApiRun, host: str) -> tuple[list[dict], list[QuarantinedItem]]:
    """One row per `_step` in step order; rows WandB sent without a usable `_step` are set aside."""
    source = f"{host}/{run.entity}/{run.project}/runs/{run.run_id}"
    by_step: dict[int, dict[str, Any]] = {}
    quarantined: list[QuarantinedItem] = []
    for index, row in enumerate(raw_rows):
        step = as_int64(row.get("_step"))
        if step is None:
            quarantined.append(QuarantinedItem(source, index + 1, "history row without a finite numeric _step",
                                               json.dumps(row, default=str)))
            continue
        # The export and the live tail can both hold a step; WandB never logs one `_step` twice.
        by_step.setdefault(step, {**row, "_step": step})
    return [by_step[s] for s in sorted(by_step)], quarantined


def _runs_table(run: ApiRun, points: pa.Table, history_rows: int, host: str) -> pa.Table:
    last_step, steps_logged, last_ts = step_facts(points)
    created = wandb_time(run.created_at)
    # As for offline runs: from the first to the last logged row, unless WandB's own clock says longer.
    runtime = last_ts - created.timestamp() if last_ts is not None and created is not None else None
    reported = finite_number(run.summary.get("_runtime"))
    if reported is not None and (runtime is None or reported > runtime):
        runtime = reported
    finished = None
    if run.state != "running":
        finished = to_datetime(created.timestamp() + runtime) if created and runtime else wandb_time(run.heartbeat_at)
    sweep_name, letter = sweep_identity(run.display_name, list(run.tags))
    url = f"{host}/{run.entity}/{run.project}/runs/{run.run_id}"
    row = {
        "run_id": run.run_id,
        "run_name": run.display_name,
        "project": run.project,
        "entity": run.entity,
        "state": run.state,
        "created_at": created,
        "finished_at": finished,
        "last_timestamp": datetime.fromtimestamp(last_ts, tz=UTC) if last_ts is not None else None,
        "runtime_s": runtime,
        "tags": list(run.tags),
        "run_kind": run_kind(run.display_name, list(run.tags), run.config, steps_logged > 0),
        "sweep_name": sweep_name,
        "sweep_run_letter": letter,
        **config_columns(run.config),
        "last_step": last_step,
        "steps_logged": steps_logged,
        "config": json.dumps(run.config, sort_keys=True, default=str),
        "summary": json.dumps(run.summary, sort_keys=True, default=str),
        "source": "api",
        "source_path": url,
        "source_files": [url],
        "group_name": run.group,
        "job_type": run.job_type,
        "notes": run.notes,
        "exit_code": None,
        "resumed": False,
        "history_rows": history_rows,
        "tail_status": None,
        "corrupt_records": 0,
        "writer_version": None,
        "metric_definitions": "[]",
        "ingested_at": datetime.now(tz=UTC),
    }
    return pa.Table.from_pylist([row], schema=RUNS_SCHEMA)


def remove_api_run(paths: DataPaths, run_id: str) -> None:
    """Drop a run deleted in WandB (found by a full listing)."""
    remove_run(paths, run_id)
    listing = Listing.load(paths)
    if run_id in listing.deleted:
        listing.deleted.remove(run_id)
        listing.save(paths)


def sync(source: WandbApiSource, paths: DataPaths, work_dir: Path, *, force_full: bool = False
         ) -> dict[str, ApiIngest | Exception | None]:
    """One listing and the ingest of what it found, outside Dagster (the benchmark, scripts)."""
    pending = refresh_listing(source, paths, force_full=force_full).pending
    return ingest_api_runs(source, paths, pending, work_dir, workers=source.settings.concurrency)
