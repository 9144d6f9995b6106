"""How `diplo` prints an answer: JSON, CSV, or tables that fit the terminal without breaking a value.

A terminal narrower than a table gets the table's key columns and as many others as fit, and is told
which were left out; a short table that does not fit, or one whose key columns do not fit, is shown one
block per row instead. A name or a number is never split or shortened: only free text (messages,
hypotheses) wraps, between words. A pipe or a file gets every table whole, at its natural width. Cell
text is shown as it is: nothing in it is read as rich markup.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from diplo_pipeline.lib import queries

FORMATS = ("table", "json", "csv")
NATURAL_WIDTH = 1_000_000  # what a pipe gets: wider than any table, so nothing is fitted or wrapped
RECORD_INDENT = 2  # a record's `field  value` lines under its title
FEW_ROWS = 8  # a table this short that does not fit is shown one block per row, with nothing left out
# The columns that say which row it is and what it found, per table (the answer's JSON key, or the command
# for a list answer): they are kept when a terminal is too narrow for every column.
KEY_COLUMNS = {
    "runs": ("run_name", "state"),
    "keys": ("key", "points"),
    "metrics": ("key", "points", "last"),
    "comparison": ("run_name", "final"),
    "config_differences": ("key",),
    "checkpoints": ("agent", "peak_elo", "final_elo"),
    "baselines": ("agent", "final_elo", "change"),
    "sweep_runs": ("rank_by_elo_gap", "run_name", "final_elo_gap"),
    "findings": ("severity", "rule", "message"),
    "timing": ("horizon_type", "rollouts", "p50_s", "p95_s"),
    "errors": ("event_time", "event", "error"),
    "stats": ("power_name", "lora_name", "extraction_rate", "requests"),
    "hours": ("hour", "status"),
}
# Values under these names are names or paths: they never wrap, spaces or not.
NAME_LIKE = re.compile(r"(^|_)(id|name|key|agent|rule|checkpoint|run|path|html|markdown)$")


# --- one answer, three formats ------------------------------------------------------------------------


def emit(answer: queries.Answer, fmt: str, title: str) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(queries.jsonable(answer.data), indent=2, default=str) + "\n")
    elif fmt == "csv":
        columns = answer.columns or list(dict.fromkeys(k for row in answer.rows for k in row))
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_csv_cell(row.get(column)) for column in columns] for row in answer.rows)
    else:
        print_tables(stdout_console(), answer.data, title)


def stdout_console() -> Console:
    """The terminal at its width; a pipe or a file at no width at all, so every table arrives whole."""
    if sys.stdout.isatty():
        return Console(highlight=False)
    return Console(width=NATURAL_WIDTH, highlight=False)


def _csv_cell(value):
    if isinstance(value, dict | list | tuple):
        return json.dumps(queries.jsonable(value), default=str)
    return "" if value is None else queries.jsonable(value)


# --- cells ----------------------------------------------------------------------------------------------


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return queries.jsonable(value)
        return f"{value:,.0f}" if abs(value) >= 1e6 else f"{value:.6g}"
    if isinstance(value, dt.datetime):
        return queries.jsonable(value).replace("T", " ")
    if isinstance(value, dict):
        return ", ".join(f"{k}={cell_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(cell_text(v) for v in value)
    return str(value)


def is_prose(label: str, value) -> bool:
    """Free text, which may wrap between its words; a name, a number or a time never wraps."""
    if isinstance(value, dict | list | tuple):
        return True  # items joined by ", ": each item stays whole
    return isinstance(value, str) and not NAME_LIKE.search(label) and any(c.isspace() for c in value)


def _widest_line(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


def wrap_words(text: str, width: int) -> list[str]:
    """Lines of at most `width` cells, broken only between words (a longer word stands alone, whole).
    rich's own wrapping folds long words; textwrap counts characters, not terminal cells."""
    lines = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            if line and cell_len(line) + 1 + cell_len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return lines


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class Column:
    name: str
    texts: list[str]
    prose: list[bool]
    numeric: bool

    @classmethod
    def of(cls, name: str, rows: list[dict]) -> Column:
        values = [row.get(name) for row in rows]
        return cls(
            name,
            [cell_text(v) for v in values],
            [is_prose(name, v) for v in values],
            all(_is_number(v) for v in values if v is not None) and any(v is not None for v in values),
        )

    @property
    def natural(self) -> int:
        return max([cell_len(self.name), *map(_widest_line, self.texts)])

    @property
    def minimum(self) -> int:
        """The narrowest the column can be without breaking a word, a name or a number (or its header)."""
        cells = [_longest_word(t) if prose else _widest_line(t) for t, prose in zip(self.texts, self.prose, strict=True)]
        return max([cell_len(self.name), *cells])


# --- layout ---------------------------------------------------------------------------------------------


def _new_table() -> Table:
    # No borders, a rule under the header, two spaces between columns: the most columns per line.
    return Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")


@functools.cache
def _extra_width(columns: int) -> int:
    """What rich adds to the column widths of a table (padding, separators), measured rather than assumed."""
    table = _new_table()
    for _ in range(columns):
        table.add_column(width=1)
    console = Console(width=NATURAL_WIDTH)
    return Measurement.get(console, console.options, table).maximum - columns


def table_width(widths: list[int]) -> int:
    return sum(widths) + _extra_width(len(widths))


def key_columns(title: str) -> tuple[str, ...]:
    return KEY_COLUMNS.get(title.split(":", 1)[0], ())


def fit_columns(columns: list[Column], width: int, keys: tuple[str, ...]) -> list[Column] | None:
    """The columns to show at `width`, in their own order: the key columns (else the first column), then the
    others in order while they fit; None when even the key columns do not fit."""
    first = [c for c in columns if c.name in keys] or columns[:1]
    chosen: list[Column] = []
    for column in first + [c for c in columns if c not in first]:
        if table_width([c.minimum for c in [*chosen, column]]) <= width:
            chosen.append(column)
        elif column in first:
            return None
    return [c for c in columns if c in chosen]


def column_widths(columns: list[Column], width: int) -> list[int]:
    """Each column at least its minimum; the room left goes to wrapping columns, up to their natural width."""
    widths = [c.minimum for c in columns]
    lacking = [c.natural - w for c, w in zip(columns, widths, strict=True)]
    spare = width - table_width(widths)
    if sum(lacking) <= spare:
        return [c.natural for c in columns]
    return [w + lack * spare // sum(lacking) for w, lack in zip(widths, lacking, strict=True)]


def _table(columns: list[Column], width: int) -> Table:
    # Every column is at least as wide as its longest name, number or word (column_widths), so rich's
    # wrapping only ever moves whole words of free text to the next line.
    table = _new_table()
    for column, column_width in zip(columns, column_widths(columns, width), strict=True):
        table.add_column(Text(column.name), width=column_width, no_wrap=not any(column.prose),
                         justify="right" if column.numeric else "left")
    for i in range(len(columns[0].texts)):
        table.add_row(*(Text(c.texts[i], no_wrap=not c.prose[i]) for c in columns))
    return table


def _record_lines(record: dict, width: int) -> Iterator[Text]:
    """`field  value` lines, free text wrapped between words under its start; a value too long to sit
    beside its field goes on the next line, whole."""
    label_width = max(cell_len(str(k)) for k in record)
    room = max(width - label_width - 2, 1)
    for label, value in record.items():
        text, label, prose = cell_text(value), str(label), is_prose(label, value)
        if (_longest_word(text) if prose else _widest_line(text)) > room:
            yield Text(label, style="bold")
            yield from (Text("  " + line) for line in (wrap_words(text, width - 2) if prose else text.splitlines()))
            continue
        lines = wrap_words(text, room) if prose else text.splitlines() or [""]
        yield Text(label.ljust(label_width) + "  ", style="bold") + lines[0]
        yield from (Text(" " * (label_width + 2) + line) for line in lines[1:])


def print_rows(out: Console, rows: list[dict], title: str) -> None:
    # Columns holding lists of records (a metric's points) are too long for a table: --format json has them.
    names = list(dict.fromkeys(k for row in rows for k, v in row.items() if not _is_rows(v)))
    columns = [Column.of(name, rows) for name in names]
    width = out.width
    out.print(Text(title, style="bold"), soft_wrap=True)
    if not columns:  # every column held record lists
        out.print(Text("(only nested records: --format json shows them)", style="dim"))
        return
    shown = fit_columns(columns, width, key_columns(title))
    if shown is not None and (len(shown) == len(columns) or len(rows) > FEW_ROWS):
        out.print(_table(shown, width), crop=False)
        left_out = [c.name for c in columns if c not in shown]
        if left_out:
            out.print(Text(f"left out at {width} columns: {', '.join(left_out)} (a wider terminal or --format json "
                           "shows every column)", style="dim"))
        return
    for i, row in enumerate(rows):
        if i:
            out.print()
        _print_record(out, {k: row.get(k) for k in names})


def print_fields(out: Console, fields: dict, title: str) -> None:
    out.print(Text(title, style="bold"), soft_wrap=True)
    _print_record(out, fields)


def _print_record(out: Console, record: dict) -> None:
    """One record, indented under its title; printed line by line as soft-wrapped text, which rich never
    folds or crops (a value wider than the terminal is left to the terminal, whole)."""
    for line in _record_lines(record, out.width - RECORD_INDENT):
        out.print(Text(" " * RECORD_INDENT) + line, soft_wrap=True)


# --- an answer as tables --------------------------------------------------------------------------------


def _is_rows(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _section_blocks(value: list | dict, title: str) -> Iterator[tuple[str, str, list | dict]]:
    if _is_rows(value):
        yield "rows", title, value
    elif all(isinstance(v, dict) for v in value.values()):  # records by name, e.g. metrics by key
        yield "rows", title, [{"key": k, **v} for k, v in value.items()]
    elif all(_is_rows(v) for v in value.values()):  # tables by name, e.g. a comparison by metric
        for key, rows in value.items():
            yield "rows", f"{title}: {key}", rows
    else:
        yield "fields", title, value


def blocks(data: list | dict, title: str) -> Iterator[tuple[str, str, list | dict]]:
    """An answer's scalars as one block of fields, then one table per nested record list or mapping."""
    if isinstance(data, list):
        if data:
            yield "rows", title, data
        return
    is_section = {k: _is_rows(v) or (isinstance(v, dict) and bool(v)) for k, v in data.items()}
    scalars = {k: v for k, v in data.items() if not is_section[k]}
    if scalars:
        yield "fields", title, scalars
    for key, value in data.items():
        if is_section[key]:
            yield from _section_blocks(value, key)


def print_tables(out: Console, data: list | dict, title: str) -> None:
    printed = False
    for kind, block_title, value in blocks(data, title):
        if printed:
            out.print()
        (print_rows if kind == "rows" else print_fields)(out, value, block_title)
        printed = True
    if not printed:
        out.print("(nothing matched)")
