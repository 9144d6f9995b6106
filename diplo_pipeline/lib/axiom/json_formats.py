"""The records of an Axiom export file in any of its JSON shapes, each with a locator unique in its file.

Every reader yields `(locator, object or ValueError, raw)`: the parsed record, or why it could not be
read, and (for damaged records) the text it came from. The locator becomes `source_line`:

- NDJSON (`axiom query -f json`): the 1-based line number;
- a JSON array, on one line (the Console's download) or pretty-printed: the 1-based element number;
- a saved API answer (`{"tables": ...}` or `{"matches": ...}`): the 1-based row of its table;
- CSV (axiom_csv.py): the 1-based data row, the header not counted.

A damaged record never costs the records after it: NDJSON goes on at the next line, an array at the
next element that starts an event, CSV at the next row. Reading is linear in the size of the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import orjson

from diplo_pipeline.lib.lake.quarantine import MAX_RAW_CHARS

EXCERPT = MAX_RAW_CHARS + 1  # the quarantine file keeps this much of a bad record (and marks the cut)
Record = tuple["int | None", Any, "str | bytes | None"]  # locator None: about the whole file

JSON_SPACE = b" \t\r\n"
_SEPARATORS = re.compile(r"[ \t\r\n,\[\]]*")  # between elements of an array (lenient: `][` and `,,` too)
# Where the next element of a damaged array may start: an object after a comma, a bracket, or the end of
# an object (pretty objects one after another).
_ELEMENT_START = re.compile(r"[,\[}][ \t\r\n]*\{")
_DECODER = json.JSONDecoder()


def too_deep(depth_hint: str = "") -> ValueError:
    return ValueError(f"nested too deeply to read{depth_hint}: no Axiom event is nested like this")


def loads(data: bytes | str) -> Any:
    """One JSON value, or a ValueError saying why not. Never raises for bad content."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            return too_deep(" (more than 1,024 levels)")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        return ValueError(f"not UTF-8 text: byte 0x{data[exc.start]:02x} at position {exc.start + 1} of the record")
    try:  # the stdlib also reads NaN and Infinity, which lenient writers emit
        return json.loads(text)
    except RecursionError:
        return too_deep()
    except ValueError as exc:
        return ValueError(f"malformed JSON: {exc}")


def ndjson_records(data: bytes) -> Iterator[Record]:
    """One record per line. Lines are split on `\\n` only: U+2028 and the like may occur inside strings."""
    for number, line in enumerate(data.split(b"\n"), start=1):
        line = line.strip(JSON_SPACE)
        if not line or line == b"[]":  # `axiom query -f json` prints [] for an empty result
            continue
        yield number, loads(line), line


def array_records(data: bytes) -> Iterator[Record]:
    """Elements of a JSON array: all at once when it is well-formed, else one by one (see `_salvage`)."""
    whole = loads(data)
    if isinstance(whole, list):
        yield from _indexed(iter(whole))
        return
    yield from _salvage(decode_text(data))


def decode_text(data: bytes) -> str:
    """The file as text; bytes that are not UTF-8 become lone surrogates, which the records holding them
    are then quarantined for (their canonical JSON cannot be encoded), rather than silently replaced."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "surrogateescape")


def _salvage(text: str) -> Iterator[Record]:
    """Element by element through a damaged array, in one pass.

    A bad element is reported with its number, line and character span, and reading resumes at the next
    object after a comma or bracket that decodes and looks like an event (has `_time` or `event`); a
    nested object inside the damaged element does not. Line numbers are counted only for bad elements,
    from the previous one, so the pass stays linear.
    """
    size, pos, index = len(text), 0, 0
    counted_to, line = 0, 1
    while True:
        pos = _SEPARATORS.match(text, pos).end()
        if pos >= size:
            return
        index += 1
        try:
            obj, pos = _DECODER.raw_decode(text, pos)
        except RecursionError:
            problem = "nested too deeply to read"
        except ValueError as exc:
            problem = f"malformed JSON: {getattr(exc, 'msg', exc)}"
        else:
            yield index, obj, None
            continue
        line += text.count("\n", counted_to, pos)
        counted_to = pos
        resume = _next_element(text, pos + 1)
        shown = text[pos:resume].rstrip(" \t\r\n,") if resume - pos <= EXCERPT else text[pos:pos + EXCERPT]
        yield index, ValueError(f"{problem} (line {line}, characters {pos + 1}-{resume})"), shown
        pos = resume


def _next_element(text: str, start: int) -> int:
    for match in _ELEMENT_START.finditer(text, start):
        begin = match.end() - 1
        try:
            obj, _ = _DECODER.raw_decode(text, begin)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict) and ("_time" in obj or "event" in obj):
            return begin
    return len(text)


class BadPart(ValueError):
    """A part of an APL answer that is no row: why, and the part itself (the quarantine shows it)."""

    def __init__(self, reason: str, part: Any = None) -> None:
        super().__init__(reason)
        self.part = part


class MalformedAnswer(BadPart):
    """A part of an APL answer that holds no rows one could point to (a table without columns, say)."""


def is_api_answer(obj: Any) -> bool:
    return isinstance(obj, dict) and ("matches" in obj or "tables" in obj) and "_time" not in obj


def api_rows(answer: dict[str, Any]) -> Iterator[Any]:
    """Rows of an APL answer (saved to a file or fresh from the API); a malformed part is a ValueError.

    Legacy: `matches[].data` plus `_time`, `_sysTime`, `_rowId`. Tabular: the first table that is not the
    aggregation `_totals` table, column-major, so `fields[i].name` is zipped with `columns[i]`. A tabular
    answer has a column for every field of any row, so absent values come back as null and are dropped.
    """
    matches = answer.get("matches")
    if matches is not None and not isinstance(matches, list):
        yield MalformedAnswer(f"`matches` is a {type(matches).__name__}, not a list of rows", matches)
    for match in matches if isinstance(matches, list) else []:
        if not isinstance(match, dict) or not isinstance(match.get("data"), dict):
            yield BadPart("a match is not an object with a `data` object", match)
            continue
        yield {**match["data"], **{k: v for k, v in match.items() if k != "data"}}
    tables = answer.get("tables")
    if tables is not None and not isinstance(tables, list):
        yield MalformedAnswer(f"`tables` is a {type(tables).__name__}, not a list", tables)
        return
    data_tables = [t for t in tables or [] if not (isinstance(t, dict) and t.get("name") == "_totals")]
    for table in data_tables[:1]:
        yield from _table_rows(table)


def _table_rows(table: Any) -> Iterator[Any]:
    fields = table.get("fields") if isinstance(table, dict) else None
    columns = table.get("columns") if isinstance(table, dict) else None
    if not isinstance(fields, list) or not isinstance(columns, list) or not all(isinstance(c, list) for c in columns):
        yield MalformedAnswer("the table has no `fields` list or no `columns` list of lists", table)
        return
    names = [f.get("name") if isinstance(f, dict) else None for f in fields]
    if len(names) != len(columns) or not all(isinstance(n, str) for n in names):
        yield MalformedAnswer(f"the table names {len(names)} fields (not all with a name) for {len(columns)} columns",
                              table)
        return
    whole = min((len(c) for c in columns), default=0)
    for i in range(max((len(c) for c in columns), default=0)):
        if i >= whole:
            part = {name: column[i] for name, column in zip(names, columns, strict=False) if i < len(column)}
            yield BadPart(f"row {i + 1} is missing from some columns (the shortest has {whole} values)", part)
            continue
        yield {name: column[i] for name, column in zip(names, columns, strict=False) if column[i] is not None}


def json_records(data: bytes) -> tuple[str, Iterator[Record]]:
    """Any JSON-shaped export, and what its locators count (`line`, `element` or `row`).

    NDJSON, an array, a saved API answer (one line or pretty), or pretty-printed objects one after
    another (one event, or `jq .` output), told apart by the first line alone where possible.
    """
    start = len(data) - len(data.lstrip(JSON_SPACE))
    if data[start:start + 1] == b"[":
        return "element", array_records(data)
    if data[start:start + 1] == b"{":
        end = data.find(b"\n", start)
        first = loads(data[start:] if end < 0 else data[start:end])
        if end < 0 or not data[end:].strip(JSON_SPACE):  # one line
            if is_api_answer(first):
                return "row", _answer_records(first)
        elif not isinstance(first, dict):  # the first line is no JSON by itself: a document over many lines?
            whole = loads(data)
            if is_api_answer(whole):
                return "row", _answer_records(whole)
            if isinstance(whole, dict) or data[start:end].strip(JSON_SPACE) == b"{":  # pretty objects
                return "element", _salvage(decode_text(data))
    return "line", ndjson_records(data)


def _indexed(rows: Iterator[Any]) -> Iterator[Record]:
    return ((index, row, None) for index, row in enumerate(rows, start=1))


def _answer_records(answer: dict[str, Any]) -> Iterator[Record]:
    """Rows of a saved answer; a malformed part (no rows to point to) concerns the whole file: no locator."""
    index = 0
    for row in api_rows(answer):
        if isinstance(row, MalformedAnswer):
            yield None, row, None
            continue
        index += 1
        yield index, row, None
