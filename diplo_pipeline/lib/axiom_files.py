"""Axiom export files → typed, deduplicatable event rows, with malformed input quarantined.

Accepted (source-formats.md §C.3): NDJSON as `axiom query -f json` prints it (`.ndjson`, `.jsonl`, or
`.json` holding lines), JSON arrays of row objects (console download), CSV with a header, any of them
gzip-compressed, and saved API answers (`{"matches": [...]}` legacy or `{"tables": [...]}` tabular).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from diplo_pipeline.lib.axiom_schema import EVENTS_SCHEMA, JSON_FIELDS, KNOWN_FIELDS, RENAMED
from diplo_pipeline.lib.quarantine import QuarantinedItem

EXPORT_SUFFIXES = (".ndjson", ".jsonl", ".json", ".csv")
_RFC3339 = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)


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
    """RFC3339Nano with a variable-length fraction; microsecond precision (the raw string is kept)."""
    if not isinstance(raw, str):
        raise ValueError(f"_time is {type(raw).__name__}, not an RFC3339 string")  # noqa: TRY004 - a data error
    match = _RFC3339.match(raw.strip())
    if not match:
        raise ValueError(f"_time {raw!r} is not RFC3339")
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    tz = match["tz"] or "Z"
    tz = "+00:00" if tz == "Z" else (tz if ":" in tz else f"{tz[:3]}:{tz[3:]}")
    parsed = datetime.fromisoformat(f"{match['base'].replace(' ', 'T')}.{frac}{tz}")
    return parsed.astimezone(UTC)


def _canonical(event: dict[str, Any]) -> bytes:
    """Sorted-key compact JSON: the same event gives the same bytes whatever file format carried it.

    Top-level nulls are dropped: Axiom stores events column-wise, so its query API (tabular) cannot tell
    a field written as null from one not written, and the same event must hash alike from either path.
    """
    if None in event.values():
        event = {key: value for key, value in event.items() if value is not None}
    try:
        return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # NaN/Infinity from a lenient writer: keep them as the stdlib writes them
        return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_UNHASHED_FIELDS = re.compile(rb'"_(?:sysTime|rowId)":(?:"[^"]*"|[0-9.eE+-]+|null),?')


def event_id(canonical: bytes) -> str:
    """Hash of the canonical event without the fields that differ between exports of one stored event."""
    return hashlib.blake2b(_UNHASHED_FIELDS.sub(b"", canonical), digest_size=12).hexdigest()


LEAN_SCHEMA = pa.schema(
    [("event_id", pa.string()), ("time_raw", pa.string()), ("payload", pa.string()),
     ("source_file", pa.string()), ("source_line", pa.int64())]
)


@dataclass
class ParsedExport:
    """The valid events of one export file (or one API fetch) as canonical JSON text, and what was set aside.

    `source` is the file path, or `axiom-api://<dataset>/<day>` for rows fetched from the query API; it
    becomes `source_file` in the staged rows. Python only validates and canonicalises; typing the known
    fields is one vectorised DuckDB pass (`typed_events`), which is what makes ingestion fast.
    """

    source: str
    event_ids: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    payloads: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    quarantined: list[QuarantinedItem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.event_ids)

    def lean(self) -> pa.Table:
        return pa.table(
            [self.event_ids, self.times, self.payloads, [self.source] * len(self), self.lines],
            schema=LEAN_SCHEMA,
        )

    def table(self) -> pa.Table:
        return typed_events(self.lean())


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return path.open("r", encoding="utf-8", errors="replace")


def _csv_cell(text: str) -> Any:
    """CSV loses types: read numbers, booleans, null and JSON objects back; other text stays text."""
    if text == "":
        return None
    if text[0] in '{["-0123456789tfn':
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _records(path: Path, text: str) -> Iterator[tuple[int, Any, str | None]]:
    """(line, parsed object or a ValueError, raw text) for every record of a file, tolerating damage."""
    stripped = text.lstrip()
    if path.name.lower().removesuffix(".gz").endswith(".csv"):
        reader = csv.DictReader(io.StringIO(text))
        for row in reader:
            yield reader.line_num, {k: _csv_cell(v) for k, v in row.items() if k is not None}, None
        return
    if stripped.startswith("{") and "\n" not in stripped.strip():
        single = _json_or_error(stripped)
        if isinstance(single, dict) and ("matches" in single or "tables" in single):
            yield from ((1, row, None) for row in api_rows(single))
            return
    if stripped.startswith("["):
        yield from _array_records(text)
        return
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line == "[]":  # `axiom query -f json` prints [] for an empty result
            continue
        yield number, _json_or_error(line), line


def _json_or_error(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        try:  # the stdlib also reads NaN and Infinity, which lenient writers emit
            return json.loads(text)
        except ValueError as exc:
            return ValueError(f"malformed JSON: {exc}")


def _array_records(text: str) -> Iterator[tuple[int, Any, str | None]]:
    """Elements of a JSON array, one by one, so one damaged element does not lose the others."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    size = len(text)
    while pos < size:
        while pos < size and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= size or text[pos] == "]":
            return
        line = text.count("\n", 0, pos) + 1
        try:
            obj, end = decoder.raw_decode(text, pos)
            yield line, obj, None
            pos = end
        except ValueError as exc:
            nxt = text.find("\n", pos)
            stop = size if nxt < 0 else nxt
            yield line, ValueError(f"malformed JSON array element: {exc}"), text[pos:stop]
            pos = stop


def api_rows(answer: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Rows of an APL answer (saved to a file or fresh from the API).

    Legacy: `matches[].data` plus `_time`, `_sysTime`, `_rowId`. Tabular: the first table that is not the
    aggregation `_totals` table, column-major, so `fields[i].name` is zipped with `columns[i]`. A tabular
    answer has a column for every field of any row, so absent values come back as null and are dropped.
    """
    for match in answer.get("matches") or []:
        yield {**(match.get("data") or {}), **{k: match[k] for k in ("_time", "_sysTime", "_rowId") if k in match}}
    tables = [t for t in answer.get("tables") or [] if t.get("name") != "_totals"]
    for table in tables[:1]:
        names = [f["name"] for f in table.get("fields", [])]
        for values in zip(*table.get("columns", [])):
            yield {n: v for n, v in zip(names, values) if v is not None}


def parse_export(path: Path) -> ParsedExport:
    """Parse one export file. Never raises for bad content: bad records are quarantined with the reason."""
    source = str(path)
    try:
        with _open_text(path) as handle:
            text = handle.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        return ParsedExport(source, quarantined=[QuarantinedItem(source, None, f"unreadable file: {exc}")])
    return parse_records(source, _records(path, text))


def _invalid_reason(obj: Any) -> str | None:
    """Why a record is not a usable event, or None if it is one."""
    if isinstance(obj, ValueError):
        return str(obj)
    if not isinstance(obj, dict):
        return f"not a JSON object but {type(obj).__name__}"
    if "_time" not in obj:
        return "missing field _time (every Axiom event has one)"
    if not isinstance(obj.get("event"), str) or not obj["event"]:
        return "missing field event (the event name)"
    try:
        parse_time(obj["_time"])
    except ValueError as exc:
        return str(exc)
    return None


def parse_records(source: str, records: Iterable[tuple[int, Any, str | None]]) -> ParsedExport:
    """Validate and canonicalise (line, object or ValueError, raw text) records from any carrier.

    One rule set for export files and API rows (where `line` is the row's index in the fetch), so an
    event is accepted or quarantined the same way whichever way it reached us.
    """
    out = ParsedExport(source)
    for line, obj, raw in records:
        reason = _invalid_reason(obj)
        if reason is not None:
            shown = raw if raw is not None else json.dumps(obj, default=str)
            out.quarantined.append(QuarantinedItem(source, line, reason, shown))
            continue
        canonical = _canonical(obj)
        out.event_ids.append(event_id(canonical))
        out.times.append(obj["_time"])
        out.payloads.append(canonical.decode())
        out.lines.append(line)
    return out


def _json_struct() -> str:
    """The json_transform structure of the known fields, keyed as the emitters write them."""
    source_name = {column: field for field, column in RENAMED.items()}
    types = {"event": "VARCHAR", "service": "VARCHAR", "run_name": "VARCHAR"}
    for column, kind in KNOWN_FIELDS.items():
        types[source_name.get(column, column)] = (
            "JSON" if column in JSON_FIELDS else
            "BIGINT" if pa.types.is_integer(kind) else "DOUBLE" if pa.types.is_floating(kind) else "VARCHAR"
        )
    return json.dumps(types)


def _typed_select() -> str:
    source_name = {column: field for field, column in RENAMED.items()}
    columns = []
    for column in KNOWN_FIELDS:
        value = f'f."{source_name.get(column, column)}"'
        columns.append(f'{value}::VARCHAR as "{column}"' if column in JSON_FIELDS else f'{value} as "{column}"')
    return ",\n    ".join(columns)


_TYPED_SQL = """
with parsed as (
    select *, json_transform(payload, $structure) as f
    from lean
)
select
    event_id,
    cast(time_raw as timestamptz) as event_time,
    time_raw,
    strftime(timezone('UTC', cast(time_raw as timestamptz)), '%Y-%m-%d') as day,
    f.event as event,
    f.service as service,
    coalesce(
        nullif(f.run_name, ''),
        nullif(split_part(f.context, ':', 2), ''),
        nullif(regexp_extract(coalesce(f.challenger_path, f.checkpoint_path), '([^/]+)/adapter_v[0-9]+', 1), '')
    ) as run_name,
    {columns},
    payload,
    source_file,
    source_line
from parsed
"""


def typed_events(lean: pa.Table) -> pa.Table:
    """Known fields as typed columns (a field holding the wrong type is NULL there, intact in payload)."""
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        con.register("lean", lean)
        sql = _TYPED_SQL.replace("{columns}", _typed_select())
        table = con.execute(sql, {"structure": _json_struct()}).to_arrow_table()
    finally:
        con.close()
    return table.cast(EVENTS_SCHEMA)
