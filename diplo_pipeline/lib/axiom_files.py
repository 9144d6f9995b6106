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

import pyarrow as pa

from diplo_pipeline.lib.axiom_schema import EVENTS_SCHEMA, JSON, KNOWN_FIELDS, RENAMED
from diplo_pipeline.lib.quarantine import QuarantinedItem

EXPORT_SUFFIXES = (".ndjson", ".jsonl", ".json", ".csv")
_RFC3339 = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)
_NOT_HASHED = ("_sysTime", "_rowId")  # differ between two exports of the same stored event
_CHECKPOINT = re.compile(r"^(?P<run>.+?)/adapter_v\d+")


def is_export_file(path: Path) -> bool:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
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
        raise ValueError(f"_time is {type(raw).__name__}, not an RFC3339 string")
    match = _RFC3339.match(raw.strip())
    if not match:
        raise ValueError(f"_time {raw!r} is not RFC3339")
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    tz = match["tz"] or "Z"
    tz = "+00:00" if tz == "Z" else (tz if ":" in tz else f"{tz[:3]}:{tz[3:]}")
    parsed = datetime.fromisoformat(f"{match['base'].replace(' ', 'T')}.{frac}{tz}")
    return parsed.astimezone(UTC)


def run_name_of(event: dict[str, Any]) -> str | None:
    """The WandB run an event names, where it names one (source-data.md §2.5)."""
    if isinstance(event.get("run_name"), str) and event["run_name"]:
        return event["run_name"]
    context = event.get("context")
    if isinstance(context, str) and ":" in context:
        return context.split(":", 1)[1] or None
    for key in ("challenger_path", "checkpoint_path"):
        path = event.get(key)
        if isinstance(path, str) and (m := _CHECKPOINT.match(path.rstrip("/").split("/data/")[-1])):
            return m["run"]
    return None


def _coerce(value: Any, kind: pa.DataType) -> Any:
    """Typed column value, or None when the field holds something else (the payload keeps the original)."""
    if value is None:
        return None
    if kind == JSON and not isinstance(value, str):
        return json.dumps(value, sort_keys=True)
    if pa.types.is_string(kind):
        return value if isinstance(value, str) else json.dumps(value)
    if isinstance(value, bool):
        return None
    try:
        if pa.types.is_integer(kind):
            number = float(value)
            return int(number) if number.is_integer() else None
        number = float(value)
        return number if number == number else None  # NaN stays in the payload only
    except (TypeError, ValueError, OverflowError):
        return None


def event_id(event: dict[str, Any]) -> str:
    body = {k: v for k, v in event.items() if k not in _NOT_HASHED}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(canonical.encode(), digest_size=12).hexdigest()


@dataclass
class ParsedExport:
    path: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[QuarantinedItem] = field(default_factory=list)

    def table(self) -> pa.Table:
        return pa.Table.from_pylist(self.rows, schema=EVENTS_SCHEMA)

    @property
    def days(self) -> list[str]:
        return sorted({row["day"] for row in self.rows})


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
            yield from ((1, row, None) for row in _api_rows(single))
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


def _api_rows(answer: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Rows of a saved APL answer: legacy `matches[].data` or tabular column-major `tables[0]`."""
    for match in answer.get("matches") or []:
        yield {**(match.get("data") or {}), **{k: match[k] for k in ("_time", "_sysTime", "_rowId") if k in match}}
    for table in (answer.get("tables") or [])[:1]:
        names = [f["name"] for f in table.get("fields", [])]
        for values in zip(*table.get("columns", [])):
            yield {n: v for n, v in zip(names, values) if v is not None}


def _row(event: dict[str, Any], when: datetime, path: str, line: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "event_id": event_id(event),
        "event_time": when,
        "time_raw": event["_time"],
        "day": when.date().isoformat(),
        "event": event["event"],
        "service": event.get("service") if isinstance(event.get("service"), str) else None,
        "run_name": run_name_of(event),
        "payload": json.dumps(event, sort_keys=True, ensure_ascii=False),
        "source_file": path,
        "source_line": line,
    }
    for key, value in event.items():
        column = RENAMED.get(key, key)
        kind = KNOWN_FIELDS.get(column)
        if kind is not None:
            row[column] = _coerce(value, kind)
    return row


def parse_export(path: Path) -> ParsedExport:
    """Parse one export file. Never raises for bad content: bad records are quarantined with the reason."""
    out = ParsedExport(path=path)
    source = str(path)
    try:
        with _open_text(path) as handle:
            text = handle.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        out.quarantined.append(QuarantinedItem(source, None, f"unreadable file: {exc}"))
        return out
    for line, obj, raw in _records(path, text):
        reason = None
        if isinstance(obj, ValueError):
            reason = str(obj)
        elif not isinstance(obj, dict):
            reason = f"not a JSON object but {type(obj).__name__}"
        elif "_time" not in obj:
            reason = "missing field _time (every Axiom event has one)"
        elif not isinstance(obj.get("event"), str) or not obj["event"]:
            reason = "missing field event (the event name)"
        if reason is None:
            try:
                when = parse_time(obj["_time"])
            except ValueError as exc:
                reason = str(exc)
        if reason is not None:
            shown = raw if raw is not None else json.dumps(obj, default=str)
            out.quarantined.append(QuarantinedItem(source, line, reason, shown))
            continue
        out.rows.append(_row(obj, when, source, line))
    return out
