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
import pyarrow.compute as pc

from diplo_pipeline.lib.axiom.csv_format import csv_records
from diplo_pipeline.lib.axiom.gzip_salvage import Salvaged, read_gzip
from diplo_pipeline.lib.axiom.json_formats import EXCERPT, JSON_SPACE, decode_text, json_records, loads
from diplo_pipeline.lib.axiom.schema import EVENTS_SCHEMA
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
_ROWS_SCHEMA = pa.schema([column for column in LEAN_SCHEMA if column.name != "source_file"])


@dataclass
class ParsedExport:
    """The valid events of one export file (or one API fetch) as canonical JSON text, and what was set aside.

    `source` is the file path, or `axiom-api://<dataset>/<day>` for rows fetched from the query API; it
    becomes `source_file` in the staged rows, and `lines` (a locator unique in the source: line, array
    element or row, see axiom_formats.py) becomes `source_line`. Python only validates and canonicalises;
    typing the known fields is one vectorised DuckDB pass (`typed_events`), which is what makes ingestion
    fast. The kept rows are held as Arrow batches (`parts`, in locator order); `event_ids`, `times`,
    `payloads`, `lines` and `moments` are their columns as lists.
    """

    source: str
    quarantined: list[QuarantinedItem] = field(default_factory=list)
    parts: list[pa.RecordBatch] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return sum(part.num_rows for part in self.parts)

    def _rows(self) -> pa.Table:
        return pa.Table.from_batches(self.parts, schema=_ROWS_SCHEMA)

    def _column(self, name: str) -> list:
        return self._rows().column(name).to_pylist()

    @property
    def event_ids(self) -> list[str]:
        return self._column("event_id")

    @property
    def times(self) -> list[str]:
        return self._column("time_raw")

    @property
    def moments(self) -> list[datetime]:  # `times` parsed, in UTC
        return self._column("event_time")

    @property
    def payloads(self) -> list[str]:
        return self._column("payload")

    @property
    def lines(self) -> list[int]:
        return self._column("source_line")

    def lean(self) -> pa.Table:
        rows = self._rows().combine_chunks()
        sources = pa.array([self.source] * rows.num_rows, pa.string())
        return rows.add_column(LEAN_SCHEMA.get_field_index("source_file"), LEAN_SCHEMA.field("source_file"), sources)

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
        out = parse_ndjson(source, data) if kind == "line" else parse_records(source, records, kind=kind)
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


class _Kept:
    """Kept rows gathered one by one (the record-by-record path), turned into one Arrow batch."""

    def __init__(self) -> None:
        self.event_ids: list[str] = []
        self.moments: list[datetime] = []
        self.times: list[str] = []
        self.payloads: list[str] = []
        self.lines: list[int] = []

    def batch(self) -> pa.RecordBatch:
        return pa.record_batch([self.event_ids, self.moments, self.times, self.payloads, self.lines],
                               schema=_ROWS_SCHEMA)


def _take(out: ParsedExport, kept: _Kept, source: str, locator: Any, obj: Any, raw: Any, kind: str) -> None:
    """One record: kept in `kept`, or quarantined in `out` with the reason."""
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
        return
    kept.event_ids.append(event_id(canonical))
    kept.times.append(obj["_time"])
    kept.moments.append(moment)
    kept.payloads.append(canonical.decode())
    kept.lines.append(locator)


def parse_records(source: str, records: Iterable[tuple[int, Any, Any]], kind: str = "line") -> ParsedExport:
    """Validate and canonicalise (locator, object or ValueError, raw text) records from any carrier.

    One rule set for export files and API rows (where the locator is the row's index in the fetch), so an
    event is accepted or quarantined the same way whichever way it reached us. Quarantine entries carry
    the locator as `line`; a reason names it when it is not a line (`element 3: ...`, `row 7: ...`). A
    locator of None is a problem of the whole file (`line` null in the quarantine).
    """
    out = ParsedExport(source)
    kept = _Kept()
    for locator, obj, raw in records:
        _take(out, kept, source, locator, obj, raw, kind)
    out.parts.append(kept.batch())
    return out


# --- NDJSON, vectorised ------------------------------------------------------------------------------
#
# `parse_ndjson` gives exactly what `parse_records(source, ndjson_records(data))` gives, faster: lines are
# read in chunks; the checks a clean line passes are made on the whole chunk at once (orjson per line,
# `_time` parsed by Arrow compute, the canonical form proven equal to the line for a whole chunk by one
# `orjson.dumps`, the unhashed fields cut from the whole chunk by one regex pass), and only a line that
# does not pass them (bad JSON, no event, a `_time` not in the plain `...Z` form, ...) goes through
# `_take`, the record-by-record rules, for its verdict and reason.

_NDJSON_CHUNK = 1 << 14
_SORTED = orjson.OPT_SORT_KEYS
# Only the plain UTC form is read by Arrow; any other form parse_time accepts (offsets, a space, no zone)
# or refuses takes the record-by-record path. Year 0 is no year for Python's datetime.
_PLAIN_UTC = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?Z$"
_FRACTION = r"^.{19}(?:\.(?P<f>[0-9]{1,6}))?"
# _UNHASHED_FIELDS, never matching across a line: on lines joined by \n it cuts what it cuts on each line.
_UNHASHED_JOINED = re.compile(rb'"_(?:sysTime|rowId)":(?:"[^"\n]*"|[0-9.eE+-]+|null),?')


def _plain_utc_micros(times: pa.Array) -> pa.Array:
    """Microseconds since the epoch of each `YYYY-MM-DDTHH:MM:SS[.fraction]Z` time, as parse_time reads it;
    null for any other text (parse_time then decides). A date that does not exist (February 30, hour 24,
    second 60) is caught by writing the parsed time back: it does not give the same text."""
    plain = pc.and_(pc.match_substring_regex(times, _PLAIN_UTC), pc.invert(pc.starts_with(times, "0000")))
    base = pc.if_else(plain, pc.utf8_slice_codeunits(times, 0, 19), None)
    seconds = pc.strptime(base, format="%Y-%m-%dT%H:%M:%S", unit="s", error_is_null=True)
    exact = pc.equal(seconds.cast(pa.string()), pc.replace_substring(base, "T", " "))  # `YYYY-MM-DD HH:MM:SS`
    fraction = pc.utf8_rpad(pc.struct_field(pc.extract_regex(times, _FRACTION), "f"), 6, "0").cast(pa.int64())
    micros = pc.add(pc.multiply(seconds.cast(pa.int64()), 1_000_000), fraction)
    return pc.if_else(exact, micros, None)


def parse_ndjson(source: str, data: bytes) -> ParsedExport:
    """An NDJSON file (see ndjson_records): the same rows, reasons and order as parse_records gives."""
    out = ParsedExport(source)
    lines = data.split(b"\n")
    for first in range(0, len(lines), _NDJSON_CHUNK):
        _ndjson_chunk(out, source, lines[first:first + _NDJSON_CHUNK], first + 1)
    if not out.parts:
        out.parts.append(_Kept().batch())
    return out


def _ndjson_chunk(out: ParsedExport, source: str, chunk: list[bytes], first: int) -> None:
    numbers: list[int] = []
    texts: list[bytes] = []
    for number, line in enumerate(chunk, first):
        line = line.strip(JSON_SPACE)
        if line and line != b"[]":
            numbers.append(number)
            texts.append(line)
    objs: list[Any] = []
    times: list[Any] = []
    unread = _UNREAD
    for text in texts:
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError:
            objs.append(unread)
            times.append(None)
            continue
        objs.append(obj)
        event = obj.get("event") if type(obj) is dict else None
        if type(event) is str and event and type(t := obj["_time"] if "_time" in obj else None) is str:
            times.append(t)
        else:  # the rules decide (and say why)
            times.append(None)
    raw_times = pa.array(times, pa.string())
    micros = _plain_utc_micros(raw_times)
    plain = micros.is_valid().to_pylist()
    fast = [i for i, ok in enumerate(plain) if ok]
    slow = [i for i, ok in enumerate(plain) if not ok]

    canonicals = _canonical_forms([objs[i] for i in fast], [texts[i] for i in fast])
    moved = [fast[k] for k, c in enumerate(canonicals) if c is None]  # could not be written: the rules decide
    if moved:
        keep = [k for k, c in enumerate(canonicals) if c is not None]
        fast = [fast[k] for k in keep]
        canonicals = [canonicals[k] for k in keep]
        slow = sorted(slow + moved)
    if fast:
        joined = b"\n".join(canonicals)
        hashed = _UNHASHED_JOINED.sub(b"", joined).split(b"\n") if b'"_' in joined else canonicals
        blake2b = hashlib.blake2b
        ids = [blake2b(c, digest_size=12).hexdigest() for c in hashed]
        index = pa.array(fast, pa.int64())
        out.parts.append(pa.record_batch([
            pa.array(ids, pa.string()),
            micros.take(index).cast(pa.timestamp("us", tz="UTC")),
            raw_times.take(index),
            pa.array(canonicals, pa.binary()).cast(pa.string()),
            pa.array([numbers[i] for i in fast], pa.int64()),
        ], schema=_ROWS_SCHEMA))
    if slow:
        kept = _Kept()
        for i in slow:
            obj = objs[i]
            _take(out, kept, source, numbers[i], loads(texts[i]) if obj is unread else obj, texts[i], "line")
        if kept.lines:
            if fast:  # back in line order
                rows = pa.Table.from_batches([out.parts.pop(), kept.batch()]).combine_chunks()
                rows = rows.take(pc.sort_indices(rows, [("source_line", "ascending")]))
                out.parts.extend(rows.to_batches())
            else:
                out.parts.append(kept.batch())


_UNREAD = object()  # a line orjson cannot read: `loads` says why (or reads it the lenient way)


_BLOCK = 64  # lines proven canonical at once: a line that is not costs its block the line-by-line path


def _canonical_forms(objs: list[dict], texts: list[bytes]) -> list[bytes | None]:
    """`_canonical` of each object (None where it raises), taking the line itself wherever it already is
    canonical (sorted keys, compact, no null at the top level), proven for a block of lines at a time by
    one `orjson.dumps` of the block: each line is one whole JSON value, so the dumped array's elements split
    where the lines do, and each line is the sorted compact form of its object. Lines holding `:null` are
    not tried (their canonical form drops the top-level nulls)."""
    forms: list[bytes | None] = [None] * len(texts)
    tried = [i for i, text in enumerate(texts) if b":null" not in text]
    dumps, sorted_keys = orjson.dumps, _SORTED
    for start in range(0, len(tried), _BLOCK):
        block = tried[start:start + _BLOCK]
        lines = [texts[i] for i in block]
        try:
            same = dumps([objs[i] for i in block], option=sorted_keys) == b"[" + b",".join(lines) + b"]"
        except TypeError:
            same = False
        if same:
            for i, line in zip(block, lines, strict=True):
                forms[i] = line
    for i, form in enumerate(forms):
        if form is None:
            try:
                forms[i] = _canonical(objs[i])
            except (UnicodeEncodeError, RecursionError):
                pass
    return forms


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
        _DATABASE = (os.getpid(), duckdb.connect())
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
