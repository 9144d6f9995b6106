"""Axiom export files → day partitions of deduplicated raw events.

Two steps, both incremental. Staging parses each new or changed export file once into its own Parquet
file (lake/raw/axiom/export_files/<key>.parquet) and records which days it touches. A day partition is
then rebuilt from every staged file that touches that day, keeping one row per `event_id`, so the same
event in two overlapping exports is stored once and removing an export removes only what it alone held.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from diplo_pipeline.lib.axiom_files import discover_exports, parse_export
from diplo_pipeline.lib.lake import read_json, write_json_atomic, write_parquet_atomic
from diplo_pipeline.lib.quarantine import write_quarantine
from diplo_pipeline.lib.settings import DataPaths


def _index_path(paths: DataPaths) -> Path:
    return paths.state / "axiom_files.json"


def staged_dir(paths: DataPaths) -> Path:
    return paths.raw / "axiom" / "export_files"


def events_dir(paths: DataPaths) -> Path:
    return paths.raw / "axiom" / "events"


def _fingerprint(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}|{st.st_mtime_ns}"


def _file_key(path: Path) -> str:
    return hashlib.sha1(str(path).encode()).hexdigest()[:16]


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
        write_parquet_atomic(parsed.table(), staged_dir(paths) / f"{key}.parquet")
        write_quarantine(paths.quarantine, "axiom", key, parsed.quarantined)
        days = parsed.days
        result.affected_days.update(days)
        if entry:
            result.affected_days.update(entry["days"])  # days the old version touched may lose rows
        index[str(path)] = {
            "fingerprint": fingerprint,
            "key": key,
            "days": days,
            "rows": len(parsed.rows),
            "quarantined": len(parsed.quarantined),
        }
        result.files_parsed.append(str(path))
        result.rows_parsed += len(parsed.rows)
        result.quarantined += len(parsed.quarantined)
        write_json_atomic(index, _index_path(paths))  # after every file: an interrupted stage resumes
    for name in sorted(set(index) - {str(p) for p in present}):
        entry = index.pop(name)
        (staged_dir(paths) / f"{entry['key']}.parquet").unlink(missing_ok=True)
        (paths.quarantine / "axiom" / f"{entry['key']}.ndjson").unlink(missing_ok=True)
        result.affected_days.update(entry["days"])
        result.files_removed.append(name)
    write_json_atomic(index, _index_path(paths))
    return result


def staged_days(paths: DataPaths) -> set[str]:
    return {day for entry in read_json(_index_path(paths), {}).values() for day in entry["days"]}


def build_day(paths: DataPaths, day: str) -> int:
    """Rebuild one day partition from the staged files that touch it; returns its row count."""
    index: dict[str, dict] = read_json(_index_path(paths), {})
    sources = [str(staged_dir(paths) / f"{e['key']}.parquet") for e in index.values() if day in e["days"]]
    target = events_dir(paths) / f"{day}.parquet"
    if not sources:
        target.unlink(missing_ok=True)
        return 0
    con = duckdb.connect()
    try:
        # Keep the first copy of each event in a stable order (file, line) so rebuilds are reproducible.
        table = con.execute(
            """
            select * exclude (rank_in_id) from (
                select *, row_number() over (partition by event_id order by source_file, source_line) as rank_in_id
                from read_parquet($sources, union_by_name = true)
                where day = $day
            )
            where rank_in_id = 1
            order by event_time, event_id
            """,
            {"sources": sources, "day": day},
        ).to_arrow_table()
    finally:
        con.close()
    write_parquet_atomic(table, target)
    return table.num_rows


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


def pending_days(paths: DataPaths) -> list[str]:
    """Days staged but not yet rebuilt (kept on disk so an interrupted build picks them up again)."""
    return sorted(read_json(_pending_path(paths), []))


def mark_days_pending(paths: DataPaths, days: set[str]) -> None:
    write_json_atomic(sorted(set(pending_days(paths)) | days), _pending_path(paths))


def mark_days_built(paths: DataPaths, days: set[str]) -> None:
    write_json_atomic(sorted(set(pending_days(paths)) - days), _pending_path(paths))


def exports_changed(paths: DataPaths) -> bool:
    """Cheap check (stat only) whether staging has anything to do."""
    index = read_json(_index_path(paths), {})
    present = discover_exports(paths.axiom_dirs)
    if {str(p) for p in present} != set(index):
        return True
    return any(index[str(p)]["fingerprint"] != _fingerprint(p) for p in present)
