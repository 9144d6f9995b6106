"""Axiom export files → day partitions of deduplicated raw events.

Two steps, both incremental. Staging parses each new or changed export file once into its own Parquet
file (lake/raw/axiom/export_files/<key>.parquet) and records which days it touches. A day partition is
then rebuilt from every staged file that touches that day, keeping one row per `event_id`, so the same
event in two overlapping exports is stored once and removing an export removes only what it alone held.

Rows fetched from Axiom's query API are staged the same way, one staged file per fetched day
(`api-<dataset>-<day>.parquet`), recorded in the same index with `"source": "api"`, so a day partition
holds API rows and export-file rows deduplicated together. Export staging leaves those entries alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from diplo_pipeline.lib.axiom_api import AplClient, AxiomSettings, FetchResult, format_time, later_time
from diplo_pipeline.lib.axiom_files import (
    ParsedExport,
    discover_exports,
    parse_export,
    parse_records,
    parse_time,
)
from diplo_pipeline.lib.lake import read_json, write_json_atomic, write_parquet_atomic
from diplo_pipeline.lib.quarantine import MAX_RAW_CHARS, QuarantinedItem, write_quarantine
from diplo_pipeline.lib.settings import DataPaths

try:  # an advisory lock keeps concurrent writers of one state file from losing each other's updates
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, as before
    fcntl = None  # type: ignore[assignment]

API_SOURCE = "api"


def _index_path(paths: DataPaths) -> Path:
    return paths.state / "axiom_files.json"


def staged_dir(paths: DataPaths) -> Path:
    return paths.raw / "axiom" / "export_files"


def events_dir(paths: DataPaths) -> Path:
    return paths.raw / "axiom" / "events"


# Bumped whenever parsing changes what a staged row holds (2: event ids ignore top-level nulls), so files
# staged by an older version are parsed again once rather than keeping ids that no longer match.
STAGING_VERSION = 2


def _fingerprint(path: Path) -> str:
    st = path.stat()
    return f"v{STAGING_VERSION}|{st.st_size}|{st.st_mtime_ns}"


def _file_key(path: Path) -> str:
    return hashlib.sha1(str(path).encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(state_file: Path) -> Iterator[None]:
    """Hold an exclusive lock beside a state file for a read-modify-write (export and API staging can run
    in parallel Dagster steps). Not re-entrant: never nest two `_locked` of the same file."""
    state_file.parent.mkdir(parents=True, exist_ok=True)
    with open(state_file.with_name(f".{state_file.name}.lock"), "a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _is_api(entry: dict) -> bool:
    return entry.get("source") == API_SOURCE


@dataclass
class StageResult:
    files_seen: int = 0
    files_parsed: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    rows_parsed: int = 0
    quarantined: int = 0
    affected_days: set[str] = field(default_factory=set)


def stage_exports(paths: DataPaths) -> StageResult:
    """Parse new or changed export files; forget removed ones. Returns the days that need rebuilding."""
    with _locked(_index_path(paths)):
        return _stage_exports(paths)


def _stage_exports(paths: DataPaths) -> StageResult:
    index: dict[str, dict] = read_json(_index_path(paths), {})
    result = StageResult()
    present = discover_exports(paths.axiom_dirs)
    result.files_seen = len(present)
    for path in present:
        fingerprint = _fingerprint(path)
        entry = index.get(str(path))
        if entry and entry["fingerprint"] == fingerprint:
            continue
        parsed = parse_export(path)
        key = _file_key(path)
        table = parsed.table()
        write_parquet_atomic(table, staged_dir(paths) / f"{key}.parquet")
        write_quarantine(paths.quarantine, "axiom", key, parsed.quarantined)
        days = sorted(set(table.column("day").to_pylist()))
        result.affected_days.update(days)
        if entry:
            result.affected_days.update(entry["days"])  # days the old version touched may lose rows
        index[str(path)] = {
            "fingerprint": fingerprint,
            "key": key,
            "days": days,
            "rows": table.num_rows,
            "quarantined": len(parsed.quarantined),
        }
        result.files_parsed.append(str(path))
        result.rows_parsed += table.num_rows
        result.quarantined += len(parsed.quarantined)
        write_json_atomic(index, _index_path(paths))  # after every file: an interrupted stage resumes
    files = {name for name, entry in index.items() if not _is_api(entry)}  # API days have no file to vanish
    for name in sorted(files - {str(p) for p in present}):
        entry = index.pop(name)
        (staged_dir(paths) / f"{entry['key']}.parquet").unlink(missing_ok=True)
        (paths.quarantine / "axiom" / f"{entry['key']}.ndjson").unlink(missing_ok=True)
        result.affected_days.update(entry["days"])
        result.files_removed.append(name)
    write_json_atomic(index, _index_path(paths))
    return result


def staged_days(paths: DataPaths) -> set[str]:
    return {day for entry in read_json(_index_path(paths), {}).values() for day in entry["days"]}


def build_days(paths: DataPaths, days: list[str]) -> dict[str, int]:
    """Rebuild day partitions from the staged files that touch them; returns each day's row count.

    Days are grouped by the set of staged files that hold them, so every staged file is read once per
    group rather than once per day, and each day's file is still replaced atomically on its own.
    """
    index: dict[str, dict] = read_json(_index_path(paths), {})
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    counts: dict[str, int] = {}
    for day in days:
        sources = tuple(sorted(str(staged_dir(paths) / f"{e['key']}.parquet") for e in index.values() if day in e["days"]))
        if sources:
            groups[sources].append(day)
        else:
            (events_dir(paths) / f"{day}.parquet").unlink(missing_ok=True)
            counts[day] = 0
    con = duckdb.connect()
    try:
        con.execute("set enable_progress_bar = false")
        for sources, group_days in groups.items():
            # Keep the first copy of each event in a stable order (file, line) so rebuilds are reproducible.
            # Deduplicate on the narrow key columns first, then fetch the wide rows once (3x faster).
            table = con.execute(
                """
                with first_copies as (
                    select source_file, source_line
                    from (
                        select
                            source_file,
                            source_line,
                            row_number() over (partition by event_id order by source_file, source_line) as copy
                        from read_parquet($sources, union_by_name = true)
                        where day in (select unnest($days))
                    )
                    where copy = 1
                )
                select events.*
                from read_parquet($sources, union_by_name = true) as events
                semi join first_copies using (source_file, source_line)
                where day in (select unnest($days))
                order by day, event_time, event_id
                """,
                {"sources": list(sources), "days": group_days},
            ).to_arrow_table()
            for day in group_days:
                part = table.filter(pc.equal(table["day"], day))
                write_parquet_atomic(part, events_dir(paths) / f"{day}.parquet")
                counts[day] = part.num_rows
    finally:
        con.close()
    return counts


def build_day(paths: DataPaths, day: str) -> int:
    return build_days(paths, [day])[day]


def remove_stale_days(paths: DataPaths) -> list[str]:
    """Delete day partitions that no staged file touches any more."""
    keep = staged_days(paths)
    removed = []
    for path in events_dir(paths).glob("*.parquet"):
        if path.stem not in keep:
            path.unlink()
            removed.append(path.stem)
    return removed


def _pending_path(paths: DataPaths) -> Path:
    return paths.state / "axiom_pending_days.json"


def _pending(paths: DataPaths) -> dict[str, int]:
    """Days staged but not yet rebuilt, each with how many times it was marked (its generation)."""
    stored = read_json(_pending_path(paths), {})
    return {day: 0 for day in stored} if isinstance(stored, list) else stored  # a list: before generations


def pending_days(paths: DataPaths) -> list[str]:
    """Days staged but not yet rebuilt (kept on disk so an interrupted build picks them up again)."""
    return sorted(_pending(paths))


def pending_snapshot(paths: DataPaths) -> dict[str, int]:
    """Take before rebuilding days, and hand to `mark_days_built` after."""
    return _pending(paths)


def mark_days_pending(paths: DataPaths, days: set[str]) -> None:
    with _locked(_pending_path(paths)):
        pending = _pending(paths)
        for day in days:
            pending[day] = pending.get(day, 0) + 1
        write_json_atomic(dict(sorted(pending.items())), _pending_path(paths))


def mark_days_built(paths: DataPaths, days: set[str], snapshot: dict[str, int] | None = None) -> None:
    """Days rebuilt are pending no more, unless staging marked them again during the rebuild (their
    generation moved past `snapshot`): the rows staged then were not in it."""
    with _locked(_pending_path(paths)):
        pending = _pending(paths)
        for day in days:
            if snapshot is None or pending.get(day) == snapshot.get(day):
                pending.pop(day, None)
        write_json_atomic(dict(sorted(pending.items())), _pending_path(paths))


def exports_changed(paths: DataPaths) -> bool:
    """Cheap check (stat only) whether staging has anything to do."""
    index = {name: e for name, e in read_json(_index_path(paths), {}).items() if not _is_api(e)}
    present = discover_exports(paths.axiom_dirs)
    if {str(p) for p in present} != set(index):
        return True
    return any(index[str(p)]["fingerprint"] != _fingerprint(p) for p in present)


# --- rows from Axiom's query API ------------------------------------------------------------------------


def api_source(dataset: str, day: str) -> str:
    """The index key and `source_file` of one dataset-day fetched from the API."""
    return f"axiom-api://{dataset}/{day}"


def api_key(dataset: str, day: str) -> str:
    """File stem of a fetched day: staged Parquet and quarantine file (dataset made filename-safe)."""
    return f"api-{re.sub(r'[^A-Za-z0-9._-]', '_', dataset)}-{day}"


def parse_api_rows(source: str, rows: Iterable[Any], first_line: int = 1) -> ParsedExport:
    """API rows under exactly the rules export files follow; `line` is the row's number in the fetch."""
    return parse_records(source, ((first_line + i, row, None) for i, row in enumerate(rows)))


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
    previous = pq.read_table(target) if target.exists() else None
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
    if changed:  # nothing new: leave the file (and its bytes) as they are, and the day as built
        write_parquet_atomic(table, target)
    quarantined = _stage_api_quarantine(paths, key, parsed.quarantined, append)
    days = sorted({day} | set(table.column("day").to_pylist()))
    with _locked(_index_path(paths)):
        index: dict[str, dict] = read_json(_index_path(paths), {})
        index[source] = {
            "source": API_SOURCE, "key": key, "days": days, "rows": table.num_rows, "quarantined": quarantined,
        }
        write_json_atomic(index, _index_path(paths))
    if changed:
        mark_days_pending(paths, set(days))
    return ApiStageResult(key=key, days=days, rows=table.num_rows, rows_new=rows_new, quarantined=quarantined)


def _api_state_path(paths: DataPaths) -> Path:
    return paths.state / "axiom_api.json"


def api_day_state(paths: DataPaths, dataset: str, day: str) -> dict | None:
    """What was fetched of one day: {complete, watermark, resume_from, rows, requests, fetched_at}."""
    return read_json(_api_state_path(paths), {}).get(dataset, {}).get(day)


def _record_api_day(paths: DataPaths, dataset: str, day: str, entry: dict) -> None:
    with _locked(_api_state_path(paths)):
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
    with _locked(_api_state_path(paths).with_name(f"{api_key(client.dataset, day)}.fetch")):
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
