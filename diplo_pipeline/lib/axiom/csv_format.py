"""CSV exports → event objects typed as the same events are typed in JSON, so they get the same ids.

CSV has no types: every cell is text. Axiom's Console can download CSV, but its shape is undocumented
(source-formats.md §C.3), so this reads a header plus one row per event, nested values as JSON text,
which is what a CSV writer makes of the same events. A cell becomes the value the JSON export holds:

- a field we know (axiom_schema.SOURCE_KINDS) takes its declared type: text fields stay text however
  numeric they look (`batch_id` "785e3658", "3617160", "0e12"), number fields are read as the JSON
  number they spell (so "92000" is the 92000 an NDJSON line holds), JSON fields are parsed as JSON;
- any other field is a number, `true`/`false`/`null` only if writing that value back gives exactly the
  cell's text (so "0e12" or "007" stay text), an object or list if the cell parses as one, else text;
- an empty cell is an absent field (CSV cannot tell the two apart; nor can Axiom's column store).

A row whose cell count differs from the header's is quarantined (a cut or merged row is not an event), and
so is a damaged header (one that spans lines or repeats a name), as an entry about the whole file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from diplo_pipeline.lib.axiom.json_formats import EXCERPT, Record
from diplo_pipeline.lib.axiom.schema import SOURCE_KINDS

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_LENIENT_NUMBERS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}  # as json.loads reads them


def _number(text: str) -> Any:
    """The JSON number a cell spells, parsed as the JSON readers parse it (orjson); else the text."""
    if _NUMBER.match(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:  # beyond a double ("785e3658"): not a number we can hold
            return text
    return _LENIENT_NUMBERS.get(text, text)


def _json_value(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _text(text: str) -> str:
    return text


def _guess(text: str) -> Any:
    """A field we do not know: typed only when the cell's text is exactly what the typed value prints."""
    if text[0] in "{[":
        value = _json_value(text)
        return value if isinstance(value, dict | list) else text
    if text in ("true", "false", "null"):
        return json.loads(text)
    if _NUMBER.match(text):
        value = _number(text)
        if isinstance(value, int | float) and (json.dumps(value) == text or orjson.dumps(value).decode() == text):
            return value
    return text


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "VARCHAR": _text, "BIGINT": _number, "DOUBLE": _number, "JSON": _json_value,
}


def converter(name: str) -> Callable[[str], Any]:
    """How a cell of column `name` is read back (see the module docstring)."""
    kind = SOURCE_KINDS.get(name)
    return _CONVERTERS[kind] if kind else _guess


def _row_text(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()[:EXCERPT]


def _header_problem(header: list[str], first: int, last: int, misfits: int) -> str | None:
    """A header that repeats a name, or that spans lines while rows do not fit it (it swallowed some), is
    damaged: rows it swallowed or misnames are lost unless the file is exported again."""
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        where = f"names {', '.join(map(repr, repeated[:3]))} more than once"
    elif last > first and misfits:
        where = f"spans lines {first}-{last} and {misfits} rows do not fit it"
    else:
        return None
    return f"the CSV header {where}: it is damaged; export the file again (rows were read against it as it is)"


def csv_records(text: str) -> Iterator[Record]:
    """(data row number, event object or ValueError, raw) per row after the header."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    convert: list[Callable[[str], Any]] = []
    row = misfits = first = header_end = 0
    while True:
        before = reader.line_num
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a cell over the csv module's size limit (an unclosed quote)
            row += 1
            yield row, ValueError(f"unreadable CSV (line {reader.line_num}): {exc}"), None
            continue
        if not cells:  # a blank line
            continue
        if header is None:
            header, convert, first = cells, [converter(name) for name in cells], before + 1
            header_end = reader.line_num
            continue
        row += 1
        if len(cells) != len(header):
            misfits += 1
            problem = f"{len(cells)} cells where the header names {len(header)} columns (line {reader.line_num})"
            yield row, ValueError(problem), _row_text(cells)
            continue
        values = {name: read(cell) for name, read, cell in zip(header, convert, cells, strict=True) if cell != ""}
        yield row, values, None
    problem = header and _header_problem(header, first, header_end, misfits)
    if problem:  # about the whole file: no row to point to
        yield None, ValueError(problem), _row_text(header)
