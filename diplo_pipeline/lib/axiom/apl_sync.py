"""Rows fetched from Axiom's query API → staged files beside the export files, one per fetched day.

Each fetched day is staged as `api-<dataset>-<day>.parquet`, recorded in the export index with
`"source": "api"` and marked pending, so `axiom_ingest.build_days` merges and deduplicates it with the
export files' rows of that day. What was fetched of each day (watermark, completeness) is kept in
`axiom_api.json` so the next fetch resumes where this one stopped.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from diplo_pipeline.lib.axiom.apl_client import AplClient
from diplo_pipeline.lib.axiom.apl_paging import FetchResult, format_time, later_time
from diplo_pipeline.lib.axiom.apl_settings import AxiomSettings
from diplo_pipeline.lib.axiom.export_files import ParsedExport, parse_records, parse_time
from diplo_pipeline.lib.axiom.pending_days import mark_days_pending
from diplo_pipeline.lib.axiom.staging import API_SOURCE, index_path, staged_dir
from diplo_pipeline.lib.lake.io import read_json, read_parquet, write_json_atomic, write_parquet_atomic
from diplo_pipeline.lib.lake.quarantine import MAX_RAW_CHARS, QuarantinedItem, write_quarantine
from diplo_pipeline.lib.lake.state_lock import locked
from diplo_pipeline.lib.settings import DataPaths


def api_source(dataset: str, day: str) -> str:
    """The index key and `source_file` of one dataset-day fetched from the API."""
    return f"axiom-api://{dataset}/{day}"


def api_key(dataset: str, day: str) -> str:
    """File stem of a fetched day: staged Parquet and quarantine file (dataset made filename-safe)."""
    return f"api-{re.sub(r'[^A-Za-z0-9._-]', '_', dataset)}-{day}"


def parse_api_rows(source: str, rows: Iterable[Any], first_line: int = 1) -> ParsedExport:
    """API rows under exactly the rules export files follow; `line` is the row's number in the fetch."""
    return parse_records(source, ((first_line + i, row, None) for i, row in enumerate(rows)), kind="row")


@dataclass(frozen=True)
class ApiStageResult:
    key: str
    days: list[str]
    rows: int  # events staged for the day after this fetch
    rows_new: int  # events this fetch brought that were not staged before
    quarantined: int  # bad rows held in the day's quarantine file


def _unseen(table: pa.Table, known: set[str]) -> pa.Table:
    """Rows whose event_id is neither in `known` nor earlier in the table (first copy wins)."""
    seen, keep = set(known), []
    for eid in table.column("event_id").to_pylist():
        keep.append(eid not in seen)
        seen.add(eid)
    return table.filter(pa.array(keep, pa.bool_()))


def _read_quarantine(path: Path) -> list[QuarantinedItem]:
    if not path.exists():
        return []
    with path.open() as handle:
        return [QuarantinedItem(**json.loads(line)) for line in handle if line.strip()]


def _stage_api_quarantine(paths: DataPaths, key: str, items: list[QuarantinedItem], append: bool) -> int:
    """Merge with what earlier fetches of the day set aside; overlapping fetches return the same bad rows."""
    merged = _read_quarantine(paths.quarantine / "axiom" / f"{key}.ndjson") if append else []
    seen = {(item.raw or "")[:MAX_RAW_CHARS] for item in merged}  # stored raw text is truncated
    for item in items:
        raw = (item.raw or "")[:MAX_RAW_CHARS]
        if raw not in seen:
            seen.add(raw)
            merged.append(item)
    write_quarantine(paths.quarantine, "axiom", key, merged)
    return len(merged)


def stage_api_day(paths: DataPaths, dataset: str, day: str, fetch: FetchResult, *, append: bool) -> ApiStageResult:
    """Stage one fetched day beside the export files and mark it pending, so `build_days` merges both.

    With `append`, the rows join what is already staged for the day (one row per event_id); without it
    they replace it. Either way the staged file never holds an event twice.
    """
    source, key = api_source(dataset, day), api_key(dataset, day)
    target = staged_dir(paths) / f"{key}.parquet"
    previous = read_parquet(target) if target.exists() else None
    kept = previous if append else None
    first_line = 1
    if kept is not None and kept.num_rows:
        first_line = pc.max(kept["source_line"]).as_py() + 1  # lines stay unique: build_days orders by them
    parsed = parse_api_rows(source, fetch.rows, first_line)
    fresh = _unseen(parsed.table(), set(kept["event_id"].to_pylist()) if kept is not None else set())
    before = set(previous["event_id"].to_pylist()) if previous is not None else set()
    rows_new = sum(1 for eid in fresh["event_id"].to_pylist() if eid not in before)
    table = fresh if kept is None else pa.concat_tables([kept, fresh.cast(kept.schema)])
    changed = kept is None or fresh.num_rows > 0
    days = sorted({day} | set(table.column("day").to_pylist()))
    if changed:  # nothing new: leave the file (and its bytes) as they are, and the day as built
        # Pending first: killed after writing the rows but before marking, a refetch would find nothing
        # new and the rows would never reach the day partition.
        mark_days_pending(paths, set(days))
        write_parquet_atomic(table, target)
    quarantined = _stage_api_quarantine(paths, key, parsed.quarantined, append)
    with locked(index_path(paths)):
        index: dict[str, dict] = read_json(index_path(paths), {})
        index[source] = {
            "source": API_SOURCE, "key": key, "days": days, "rows": table.num_rows, "quarantined": quarantined,
        }
        write_json_atomic(index, index_path(paths))
    return ApiStageResult(key=key, days=days, rows=table.num_rows, rows_new=rows_new, quarantined=quarantined)


def _api_state_path(paths: DataPaths) -> Path:
    return paths.state / "axiom_api.json"


def api_day_state(paths: DataPaths, dataset: str, day: str) -> dict | None:
    """What was fetched of one day: {complete, watermark, resume_from, rows, requests, fetched_at}."""
    return read_json(_api_state_path(paths), {}).get(dataset, {}).get(day)


def _record_api_day(paths: DataPaths, dataset: str, day: str, entry: dict) -> None:
    with locked(_api_state_path(paths)):
        state = read_json(_api_state_path(paths), {})
        state.setdefault(dataset, {})[day] = entry
        write_json_atomic(state, _api_state_path(paths))


def days_to_fetch(paths: DataPaths, dataset: str, since: date, today: date) -> list[str]:
    """Every day from `since` to `today` not yet fetched completely; today always (it is still filling)."""
    fetched = read_json(_api_state_path(paths), {}).get(dataset, {})
    days, day = [], since
    while day < today:
        if not fetched.get(day.isoformat(), {}).get("complete"):
            days.append(day.isoformat())
        day += timedelta(days=1)
    return [*days, today.isoformat()]


DEFAULT_DAYS_BACK = 6  # with DIPLO_AXIOM_SINCE unset: the last week, today included


def _env_day(name: str) -> date | None:
    value = os.environ.get(name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a date (YYYY-MM-DD)") from None


def days_due(paths: DataPaths, now: datetime, dataset: str | None = None) -> list[str]:
    """The days the live source should fetch now, from DIPLO_AXIOM_SINCE to DIPLO_AXIOM_UNTIL.

    Defaults: the last week up to today. Today (when in range) is always due; a past day only until it
    is complete, so a range that ends in the past stops asking Axiom anything once it is all fetched.
    """
    today = now.astimezone(UTC).date()
    since = _env_day("DIPLO_AXIOM_SINCE") or today - timedelta(days=DEFAULT_DAYS_BACK)
    until = min(_env_day("DIPLO_AXIOM_UNTIL") or today, today)
    if since > until:
        return []
    dataset = dataset or AxiomSettings.from_env().dataset
    days = days_to_fetch(paths, dataset, since, until)
    if until < today and (api_day_state(paths, dataset, until.isoformat()) or {}).get("complete"):
        days.remove(until.isoformat())  # days_to_fetch keeps its last day as "today": here it is not
    return days


@dataclass(frozen=True)
class DayFetch:
    day: str
    rows_fetched: int  # distinct rows Axiom returned this time
    rows_new: int  # events not staged before
    requests: int  # HTTP requests, retries included
    complete: bool  # the day is over and every event of it has been fetched
    watermark: str | None  # latest _time staged, the raw string Axiom sent


def _day_window(day: str) -> tuple[datetime, datetime]:
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)
    return start, start + timedelta(days=1)


def _resume_point(state: dict, day_start: datetime, lookback: timedelta) -> str:
    """Where the next fetch of a day starts: the raw watermark (or the start of a partial sub-window).

    A day already complete is fetched again from its start: only an explicit request gets here.
    `lookback` re-reads a stretch before the watermark for events that reached Axiom late: an event at
    most `lookback` late that arrived after the previous fetch has `_time` > that fetch − `lookback` ≥
    watermark − `lookback`, so it is read now (what was read already is dropped when staging).
    """
    raw = None if state.get("complete") else state.get("resume_from") or state.get("watermark")
    if raw is None:
        return format_time(day_start)
    if lookback:
        return format_time(max(day_start, parse_time(raw) - lookback))
    return raw


def fetch_day(
    client: AplClient,
    paths: DataPaths,
    day: str,
    now: datetime,
    *,
    lookback: timedelta = timedelta(0),
    settle: timedelta = timedelta(0),
) -> DayFetch:
    """Fetch what is new of one UTC day of `client.dataset`, stage it, and record how far we got.

    A day that has ended is fetched up to its end and marked complete when Axiom's answer was complete
    and the day (plus `settle`, for events that reach Axiom late) had ended before this fetch began.
    Today is fetched up to `now` and never complete. Staging always appends: the lake keeps what it has
    even after Axiom's retention has trimmed it.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    # One fetch of a day at a time (the sensor, the schedule and a manual run may overlap): each reads
    # the day's state and staged rows, then writes both.
    with locked(_api_state_path(paths).with_name(f"{api_key(client.dataset, day)}.fetch")):
        return _fetch_day(client, paths, day, now, lookback, settle)


def _fetch_day(client: AplClient, paths: DataPaths, day: str, now: datetime, lookback: timedelta,
               settle: timedelta) -> DayFetch:
    day_start, day_end = _day_window(day)
    dataset = client.dataset
    state = api_day_state(paths, dataset, day) or {}
    if now <= day_start:  # a day that has not begun has nothing to fetch
        return DayFetch(day, 0, 0, 0, bool(state.get("complete")), state.get("watermark"))
    ended = day_end <= now
    fetch = client.fetch(_resume_point(state, day_start, lookback), format_time(day_end if ended else now))
    staged = stage_api_day(paths, dataset, day, fetch, append=True)
    complete = bool(state.get("complete")) or (ended and fetch.complete and day_end + settle <= now)
    watermark = later_time(state.get("watermark"), fetch.watermark)
    _record_api_day(paths, dataset, day, {
        "complete": complete,
        "watermark": watermark,
        "resume_from": None if fetch.complete else fetch.incomplete_from,
        "rows": staged.rows,
        "requests": int(state.get("requests", 0)) + fetch.requests,
        "fetched_at": format_time(now),
    })
    return DayFetch(day, len(fetch.rows), staged.rows_new, fetch.requests, complete, watermark)
