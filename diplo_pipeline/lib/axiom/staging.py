"""Axiom export staging: parse each new or changed export file once into its own Parquet file
(lake/raw/axiom/export_files/<key>.parquet) and record, in the export index, which days it touches.

Days fetched from Axiom's query API are staged the same way (lib/axiom/apl_sync.py), one staged file per
fetched day, recorded in the same index with `"source": "api"`; export staging leaves those entries
alone. Rebuilding the days from the staged files is lib/axiom/day_partitions.py."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from diplo_pipeline.lib.axiom.export_files import discover_exports, parse_export
from diplo_pipeline.lib.axiom.pending_days import mark_days_pending
from diplo_pipeline.lib.lake.io import read_json, write_json_atomic, write_parquet_atomic
from diplo_pipeline.lib.lake.quarantine import QuarantinedItem, write_quarantine
from diplo_pipeline.lib.lake.state_lock import locked
from diplo_pipeline.lib.settings import DataPaths

API_SOURCE = "api"


def index_path(paths: DataPaths) -> Path:
    return paths.state / "axiom_files.json"


def staged_dir(paths: DataPaths) -> Path:
    return paths.raw / "axiom" / "export_files"

# Bumped whenever parsing changes what a staged row holds (2: event ids ignore top-level nulls; 3: unique
# locators in arrays, CSV cells typed by field), so files staged by an older version are parsed again once
# rather than keeping ids that no longer match.
STAGING_VERSION = 3


def _fingerprint(path: Path) -> str:
    st = path.stat()
    return f"v{STAGING_VERSION}|{st.st_size}|{st.st_mtime_ns}"


def _file_key(path: Path) -> str:
    return hashlib.sha1(str(path).encode()).hexdigest()[:16]


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
    with locked(index_path(paths)):
        return _stage_exports(paths)


def _stage_exports(paths: DataPaths) -> StageResult:
    """Every write is ordered so that a crash at any point (even `kill -9`) converges on the next run.

    A file's days, those of its new version and those its old version touched, are marked pending before
    its new rows are written, and the index records the new fingerprint last: killed before that, the
    next run parses the file again; killed after, its days are already pending. A removed file leaves the
    index before its staged rows are deleted (leftovers are swept on the next run).
    """
    index: dict[str, dict] = read_json(index_path(paths), {})
    result = StageResult()
    present = discover_exports(paths.axiom_dirs)
    result.files_seen = len(present)
    for path in present:
        fingerprint = _fingerprint(path)
        entry = index.get(str(path))
        if entry and entry["fingerprint"] == fingerprint:
            continue
        key = _file_key(path)
        try:
            parsed = parse_export(path)
        except Exception as exc:  # noqa: BLE001 - a bug in a reader must not stop the build: see _set_aside
            index[str(path)] = _set_aside(paths, path, key, entry, fingerprint, exc)
            write_json_atomic(index, index_path(paths))
            result.quarantined += 1
            continue
        table = parsed.table()
        days = sorted(set(table.column("day").to_pylist()))
        touched = set(days) | set(entry["days"] if entry else [])  # days the old version held may lose rows
        mark_days_pending(paths, touched)
        write_parquet_atomic(table, staged_dir(paths) / f"{key}.parquet")
        write_quarantine(paths.quarantine, "axiom", key, parsed.quarantined)
        index[str(path)] = {
            "fingerprint": fingerprint,
            "key": key,
            "days": days,
            "rows": table.num_rows,
            "quarantined": len(parsed.quarantined),
        }
        write_json_atomic(index, index_path(paths))  # after every file: an interrupted stage resumes
        result.affected_days.update(touched)
        result.files_parsed.append(str(path))
        result.rows_parsed += table.num_rows
        result.quarantined += len(parsed.quarantined)
    files = {name for name, entry in index.items() if not _is_api(entry)}  # API days have no file to vanish
    for name in sorted(files - {str(p) for p in present}):
        mark_days_pending(paths, set(index[name]["days"]))
        entry = index.pop(name)
        write_json_atomic(index, index_path(paths))
        result.affected_days.update(entry["days"])
        result.files_removed.append(name)
    _sweep_unindexed(paths, {entry["key"] for entry in index.values()})
    return result


def _set_aside(paths: DataPaths, path: Path, key: str, entry: dict | None, fingerprint: str, exc: Exception) -> dict:
    """`parse_export` never raises for bad content; should a bug make it raise anyway, the build goes on
    without this version of the file: what an earlier version staged stays, and the quarantine says why.
    The file is read again once it (or the staging version) changes."""
    reason = (f"could not be read ({type(exc).__name__}: {exc}), so this version of it was not ingested"
              f"{' (the version read before stays)' if entry else ''}. This is a bug in diplo-pipeline: please "
              "report it with this file; once fixed, touch or re-export the file to read it again")
    write_quarantine(paths.quarantine, "axiom", key, [QuarantinedItem(str(path), None, reason)])
    kept = entry or {"days": [], "rows": 0}
    return {"fingerprint": fingerprint, "key": key, "days": kept["days"], "rows": kept["rows"], "quarantined": 1}


_EXPORT_KEY = re.compile(r"[0-9a-f]{16}")


def _sweep_unindexed(paths: DataPaths, keys: set[str]) -> None:
    """Delete staged rows and quarantine files of export files the index no longer holds (left by a crash
    between forgetting a removed file and deleting its files). API days (`api-...`) are not touched."""
    for folder, suffix in ((staged_dir(paths), ".parquet"), (paths.quarantine / "axiom", ".ndjson")):
        for path in folder.glob(f"*{suffix}"):
            if _EXPORT_KEY.fullmatch(path.stem) and path.stem not in keys:
                path.unlink(missing_ok=True)


def staged_days(paths: DataPaths) -> set[str]:
    return {day for entry in read_json(index_path(paths), {}).values() for day in entry["days"]}


def exports_changed(paths: DataPaths) -> bool:
    """Cheap check (stat only) whether staging has anything to do."""
    index = {name: e for name, e in read_json(index_path(paths), {}).items() if not _is_api(e)}
    present = discover_exports(paths.axiom_dirs)
    if {str(p) for p in present} != set(index):
        return True
    return any(index[str(p)]["fingerprint"] != _fingerprint(p) for p in present)
