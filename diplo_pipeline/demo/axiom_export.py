"""Axiom events written the way `axiom query ... -f json` prints them (source-formats.md §C.3).

The CLI prints NDJSON through Go's `json.Encoder`: one compact object per line, keys sorted, `<`, `>` and `&`
escaped as `\\u003c`-style sequences, floats in Go's shortest form (`3` for 3.0, `1e-8` for 1e-08), nested
objects flattened to dotted field names as Axiom stores them, and `_time` / `_sysTime` in RFC3339Nano with
trailing zeros of the fraction trimmed. `service` is "unknown" because the emitter's MODAL_FUNCTION_NAME is
never set. (One difference: the CLI prints every field of the result on every row, null where absent; these
files leave absent fields out, which a reader must treat alike.)

Files: one export per UTC day, one of them gzipped (plan.GZIPPED_DAY), and one extra export overlapping a
day file whose lines are byte-identical copies (plan.DUPLICATE_EXPORT), so deduplication is exercised.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from diplo_pipeline.demo.axiom_events import AxiomEvent
from diplo_pipeline.demo.planted_episodes import DUPLICATE_EXPORT, GZIPPED_DAY
from diplo_pipeline.demo.timeline import to_datetime, to_us

SERVICE = "unknown"
_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_RAW_MARK = "\u0000"  # never part of event data; JSON-escaped as \u0000
_RAW_MARK_JSON = "\\u0000"
_RAW_NUMBER = re.compile(r'"\\u0000([^"\\]*)\\u0000"')


def rfc3339nano(nanoseconds: int) -> str:
    """Go's time.RFC3339Nano in UTC: `2025-12-22T19:14:08.12345Z`, no fraction when it is zero."""
    seconds, fraction = divmod(nanoseconds, 1_000_000_000)
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{fraction:09d}".rstrip("0")
    return f"{whole}.{digits}Z" if digits else f"{whole}Z"


def go_float(value: float) -> str:
    """encoding/json's float64 format: shortest digits, fixed notation except for tiny or huge values."""
    if not math.isfinite(value):
        raise ValueError(f"JSON cannot carry {value}")
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        return repr(value).replace("e-0", "e-").replace("e+0", "e+")
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _go_numbers(value):
    """Floats whose Python text differs from Go's become placeholders that `go_json` swaps back."""
    if isinstance(value, float):
        text = repr(value)
        if "e" in text or not math.isfinite(value):
            return f"{_RAW_MARK}{go_float(value)}{_RAW_MARK}"
        return int(value) if text.endswith(".0") else value  # Go prints 3.0 as 3
    if isinstance(value, dict):
        return {key: _go_numbers(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_go_numbers(item) for item in value]
    return value


def go_json(value) -> str:
    """What Go's json.Encoder prints for `value` (without the trailing newline)."""
    text = json.dumps(_go_numbers(value), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if _RAW_MARK_JSON in text:
        text = _RAW_NUMBER.sub(r"\1", text)
    for raw, escaped in _HTML_ESCAPES.items():
        if raw in text:  # these characters only ever occur inside strings
            text = text.replace(raw, escaped)
    return text


def flatten(fields: dict, prefix: str = "") -> dict:
    """Nested objects become dotted fields (Axiom's storage); lists stay arrays."""
    flat = {}
    for key, value in fields.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def export_line(event: AxiomEvent) -> str:
    row = flatten(event.fields)
    row["_time"] = rfc3339nano(event.time_us * 1000)
    row["_sysTime"] = rfc3339nano(event.sys_ns)
    row["service"] = SERVICE
    return go_json(row)


def write_exports(events: list[AxiomEvent], directory: Path) -> dict:
    """Write the day files and the overlapping re-export; return what was written, for the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    by_day: dict[str, list[str]] = defaultdict(list)
    overlap: list[str] = []
    overlap_start, overlap_end = to_us(DUPLICATE_EXPORT.start), to_us(DUPLICATE_EXPORT.end)
    for event in events:
        line = export_line(event)
        by_day[to_datetime(event.time_us).date().isoformat()].append(line)
        if overlap_start <= event.time_us < overlap_end:
            overlap.append(line)
    files = {}
    for day, lines in sorted(by_day.items()):
        text = "".join(f"{line}\n" for line in lines).encode()
        if day == GZIPPED_DAY.isoformat():
            path = directory / f"diplomacy-{day}.ndjson.gz"
            # mtime=0 and no file name in the header: the same events give the same bytes.
            with (
                path.open("wb") as raw,
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed,
            ):
                packed.write(text)
        else:
            path = directory / f"diplomacy-{day}.ndjson"
            path.write_bytes(text)
        files[path.name] = len(lines)
    (directory / DUPLICATE_EXPORT.file_name).write_bytes("".join(f"{line}\n" for line in overlap).encode())
    files[DUPLICATE_EXPORT.file_name] = len(overlap)
    return {"files": files, "events": len(events), "duplicated_events": len(overlap)}
