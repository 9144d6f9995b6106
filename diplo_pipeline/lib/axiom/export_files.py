"""Axiom export files → typed, deduplicatable event rows, with malformed input quarantined.

Accepted (source-formats.md §C.3): NDJSON as `axiom query -f json` prints it (`.ndjson`, `.jsonl`, or
`.json` holding lines), JSON arrays of row objects (console download), CSV with a header, any of them
gzip-compressed, and saved API answers (`{"matches": [...]}` legacy or `{"tables": [...]}` tabular).
The formats are read in axiom_formats.py and axiom_csv.py; this module turns their records into events.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from diplo_pipeline.lib.axiom.csv_format import csv_records
from diplo_pipeline.lib.axiom.gzip_salvage import Salvaged, read_gzip
from diplo_pipeline.lib.axiom.json_formats import EXCERPT, decode_text, json_records
from diplo_pipeline.lib.axiom.schema import EVENTS_SCHEMA
from diplo_pipeline.lib.lake.duck import connect
from diplo_pipeline.lib.lake.quarantine import QuarantinedItem
from diplo_pipeline.lib.warehouse.sql_project import SQL_ROOT

EXPORT_SUFFIXES = (".ndjson", ".jsonl", ".json", ".csv")
_RFC3339 = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?(?P<tz>Z|[+-]\d{2}:?\d{2})?$",
    re.ASCII,  # \d is 0-9 only: other scripts' digits are no RFC3339
)
_BOM = b"\xef\xbb\xbf"


def is_export_file(path: Path) -> bool:
    name = path.name.lower()
    name = name.removesuffix(".gz")
    return name.endswith(EXPORT_SUFFIXES) and not path.name.startswith(".")


def discover_exports(roots: Iterable[Path]) -> list[Path]:
    found: set[Path] = set()
    for root in roots:
        if root.is_file():
            found.add(root.resolve())
        elif root.is_dir():
            found.update(p.resolve() for p in root.rglob("*") if p.is_file() and is_export_file(p))
    return sorted(found)


def parse_time(raw: Any) -> datetime:
    """RFC3339Nano with a variable-length fraction; microsecond precision (the raw string is kept).

    Raises ValueError, saying why, for anything else, including times that leave the years 1 to 9999 once
    converted to UTC (`9999-12-31T23:59:59-01:00`).
    """
    if not isinstance(raw, str):
        raise ValueError(f"_time is {type(raw).__name__}, not an RFC3339 string")  # noqa: TRY004 - a data error
    match = _RFC3339.match(raw.strip())
    if not match:
        raise ValueError(f"_time {raw[:80]!r} is not RFC3339")
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    tz = match["tz"] or "Z"
    tz = "+00:00" if tz == "Z" else (tz if ":" in tz else f"{tz[:3]}:{tz[3:]}")
    try:
        return datetime.fromisoformat(f"{match['base'].replace(' ', 'T')}.{frac}{tz}").astimezone(UTC)
    except ValueError as exc:
        raise ValueError(f"_time {raw!r} is not a valid time: {exc}") from None
    except OverflowError:
        raise ValueError(f"_time {raw!r} is outside the years 1 to 9999 once converted to UTC") from None


def _canonical(event: dict[str, Any]) -> bytes:
    """Sorted-key compact JSON: the same event gives the same bytes whatever file format carried it.

    Top-level nulls are dropped: Axiom stores events column-wise, so its query API (tabular) cannot tell
    a field written as null from one not written, and the same event must hash alike from either path.
    """
    if None in event.values():
        event = {key: value for key, value in event.items() if value is not None}
    try:
        return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # integers over 64 bits, nesting over orjson's 254 levels: as the stdlib writes them
        # Raises UnicodeEncodeError for a lone surrogate (no UTF-8 exists for it) and RecursionError for
        # absurd nesting: `parse_records` quarantines the record for either.
        return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_UNHASHED_FIELDS = re.compile(rb'"_(?:sysTime|rowId)":(?:"[^"]*"|[0-9.eE+-]+|null),?')


def event_id(canonical: bytes) -> str:
    """Hash of the canonical event without the fields that differ between exports of one stored event."""
    return hashlib.blake2b(_UNHASHED_FIELDS.sub(b"", canonical), digest_size=12).hexdigest()


LEAN_SCHEMA = pa.schema(
    [("event_id", pa.string()), ("event_time", pa.timestamp("us", tz="UTC")), ("time_raw", pa.string()),
     ("payload", pa.string()), ("source_file", pa.string()), ("source_line", pa.int64())]
)


@dataclass
class ParsedExport:
    """The valid events of one export file (or one API fetch) as canonical JSON text, and what was set aside.

    `source` is the file path, or `axiom-api://<dataset>/<day>` for rows fetched from the query API; it
    becomes `source_file` in the staged rows, and `lines` (a locator unique in the source: line, array
    element or row, see axiom_formats.py) becomes `source_line`. Python only validates and canonicalises;
    typing the known fields is one vectorised DuckDB pass (`typed_events`), which is what makes ingestion
    fast.
    """

    source: str
    event_ids: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    moments: list[datetime] = field(default_factory=list)  # `times` parsed, in UTC
    payloads: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    quarantined: list[QuarantinedItem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.event_ids)

    def lean(self) -> pa.Table:
        return pa.table(
            [self.event_ids, self.moments, self.times, self.payloads, [self.source] * len(self), self.lines],
            schema=LEAN_SCHEMA,
        )

    def table(self) -> pa.Table:
        return typed_events(self.lean())


def _is_csv(path: Path) -> bool:
    return path.name.lower().removesuffix(".gz").endswith(".csv")


def parse_export(path: Path) -> ParsedExport:
    """Parse one export file. Never raises for bad content: bad records are quarantined with the reason.

    A cut `.gz` keeps every record before the cut; a corrupt one keeps only what its checksums vouch for
    (gzip_salvage.py). Either way the damage is quarantined too: one entry for the file, `line` null,
    saying what to do.
    """
    source = str(path)
    try:
        salvaged = read_gzip(path) if path.name.lower().endswith(".gz") else Salvaged(path.read_bytes())
    except OSError as exc:
        return ParsedExport(source, quarantined=[QuarantinedItem(source, None, f"unreadable file: {exc}")])
    data, damage = salvaged.data.removeprefix(_BOM), salvaged.damage
    cut: list[QuarantinedItem] = []
    if _is_csv(path):
        if salvaged.cut and not data.endswith(b"\n"):  # a row cut in its last cell looks whole: set it aside
            data, _, tail = data.rpartition(b"\n")
            cut.append(QuarantinedItem(source, None, "the last row was cut short by the damage", _shown(tail, None)))
        out = parse_records(source, csv_records(decode_text(data)), kind="row")
    else:
        kind, records = json_records(data)
        out = parse_records(source, records, kind=kind)
    out.quarantined.extend(cut)
    if damage:
        out.quarantined.append(QuarantinedItem(source, None, damage))
    return out


def _check(obj: Any) -> tuple[datetime | None, str | None]:
    """The event's time if it is a usable event, else why not."""
    if isinstance(obj, ValueError):
        return None, str(obj)
    if not isinstance(obj, dict):
        return None, f"not a JSON object but {type(obj).__name__}"
    if "_time" not in obj:
        return None, "missing field _time (every Axiom event has one)"
    if not isinstance(obj.get("event"), str) or not obj["event"]:
        return None, "missing field event (the event name)"
    try:
        return parse_time(obj["_time"]), None
    except ValueError as exc:
        return None, str(exc)


def _shown(raw: str | bytes | None, obj: Any) -> str:
    """A bounded excerpt of a bad record that can always be written: bytes that are not UTF-8 and lone
    surrogates are shown as backslash escapes."""
    if raw is None:
        try:
            raw = json.dumps(getattr(obj, "part", obj), default=str)[:EXCERPT]  # a BadPart shows the part
        except (RecursionError, ValueError):
            raw = repr(obj)[:EXCERPT]
    if isinstance(raw, bytes):
        return raw[:EXCERPT * 4].decode("utf-8", "backslashreplace")[:EXCERPT]
    return raw[:EXCERPT].encode("utf-8", "backslashreplace").decode("utf-8")


NOT_UNICODE = ("holds text that is not valid Unicode (bytes that are not UTF-8, or an escaped lone surrogate "
               "such as \\ud800): no text column can store it")


def parse_records(source: str, records: Iterable[tuple[int, Any, Any]], kind: str = "line") -> ParsedExport:
    """Validate and canonicalise (locator, object or ValueError, raw text) records from any carrier.

    One rule set for export files and API rows (where the locator is the row's index in the fetch), so an
    event is accepted or quarantined the same way whichever way it reached us. Quarantine entries carry
    the locator as `line`; a reason names it when it is not a line (`element 3: ...`, `row 7: ...`). A
    locator of None is a problem of the whole file (`line` null in the quarantine).
    """
    out = ParsedExport(source)
    for locator, obj, raw in records:
        moment, reason = _check(obj)
        if reason is None:
            try:
                canonical = _canonical(obj)
            except UnicodeEncodeError:
                reason = NOT_UNICODE
            except RecursionError:
                reason = "nested too deeply to read"
        if reason is not None:
            reason = _shown(reason if kind == "line" or locator is None else f"{kind} {locator}: {reason}", None)
            out.quarantined.append(QuarantinedItem(source, locator, reason, _shown(raw, obj)))
            continue
        out.event_ids.append(event_id(canonical))
        out.times.append(obj["_time"])
        out.moments.append(moment)
        out.payloads.append(canonical.decode())
        out.lines.append(locator)
    return out


# Typing the known fields is SQL, kept with the staging models (it is not one itself: it reads the rows
# being staged, `lean`, not a table of the lake).
TYPED_PROJECTION = SQL_ROOT / "staging" / "_axiom_typed_projection.sql"


@functools.cache
def typed_projection() -> str:
    return TYPED_PROJECTION.read_text()


_DATABASE: tuple[int, duckdb.DuckDBPyConnection] | None = None


def _cursor() -> duckdb.DuckDBPyConnection:
    """A connection to one in-memory database per process: opening a database costs ~30 ms, a cursor on an
    open one ~2 ms, and small inputs (an API fetch, a short export) are typed many times a run. Cursors
    are independent connections, safe to use from several threads; a forked child opens its own."""
    global _DATABASE
    if _DATABASE is None or _DATABASE[0] != os.getpid():
        _DATABASE = (os.getpid(), connect())
    return _DATABASE[1].cursor()


def typed_events(lean: pa.Table) -> pa.Table:
    """Known fields as typed columns (a field holding the wrong type is NULL there, intact in payload), the
    UTC day and the run the event names: dbt_like_sql/staging/_axiom_typed_projection.sql on `lean`."""
    con = _cursor()
    try:
        con.execute("set TimeZone = 'UTC'")
        con.register("lean", lean)
        table = con.execute(typed_projection()).to_arrow_table()
    finally:
        con.close()
    return table.cast(EVENTS_SCHEMA)
