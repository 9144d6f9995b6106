"""An answer as tables and records on a rich console, fitted to the terminal without breaking a value.

A terminal narrower than a table gets the table's key columns and as many others as fit, and is told
which were left out; a short table that does not fit, or one whose key columns do not fit, is shown one
block per row instead. A name or a number is never split or shortened: only free text (messages,
hypotheses) wraps, between words. A pipe or a file gets every table whole, at its natural width. Cell
text is shown as it is: nothing in it is read as rich markup. Measuring cells and choosing the columns
and their widths is table_layout.py; this module prints. output.py imports it only for `--format table`.
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from diplo_pipeline.cli.table_layout import (
    Column,
    cell_text,
    column_widths,
    fit_columns,
    is_prose,
    key_columns,
    longest_word,
    new_table,
    widest_line,
    wrap_words,
)

RECORD_INDENT = 2  # a record's `field  value` lines under its title
FEW_ROWS = 8  # a table this short that does not fit is shown one block per row, with nothing left out


# --- tables and records ------------------------------------------------------------------------------


def _table(columns: list[Column], width: int) -> Table:
    # Every column is at least as wide as its longest name, number or word (column_widths), so rich's
    # wrapping only ever moves whole words of free text to the next line.
    table = new_table()
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
        if (longest_word(text) if prose else widest_line(text)) > room:
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
