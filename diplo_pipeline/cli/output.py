"""How `diplo` prints an answer: JSON, CSV, or tables that fit the terminal without breaking a value.

JSON and CSV are written here, with the standard library; tables are tables.py's (rich), imported only when
an answer is shown as one, so `--format json` and `--format csv` do not pay for rich. The names of
tables.py and table_layout.py that callers print with are importable from here too.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import TYPE_CHECKING

from diplo_pipeline.lib import queries
from diplo_pipeline.lib.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from rich.console import Console

    from diplo_pipeline.cli.table_layout import cell_text, is_prose, wrap_words
    from diplo_pipeline.cli.tables import blocks, print_fields, print_rows, print_tables

__all__ = [
    "FORMATS",
    "blocks",
    "cell_text",
    "emit",
    "is_prose",
    "print_fields",
    "print_rows",
    "print_tables",
    "stdout_console",
    "wrap_words",
]

FORMATS = ("table", "json", "csv")
# The names offered here that live in a module with rich -> that module, imported when first asked for.
_LAZY = {
    "blocks": "tables",
    "print_fields": "tables",
    "print_rows": "tables",
    "print_tables": "tables",
    "cell_text": "table_layout",
    "is_prose": "table_layout",
    "wrap_words": "table_layout",
}


__getattr__, __dir__ = lazy_exports(__name__, "diplo_pipeline.cli", _LAZY)


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
        from diplo_pipeline.cli.tables import print_tables

        print_tables(stdout_console(), answer.data, title)


def stdout_console() -> Console:
    """The terminal at its width; a pipe or a file at no width at all, so every table arrives whole."""
    from rich.console import Console

    from diplo_pipeline.cli.table_layout import NATURAL_WIDTH

    if sys.stdout.isatty():
        return Console(highlight=False)
    return Console(width=NATURAL_WIDTH, highlight=False)


def _csv_cell(value):
    if isinstance(value, dict | list | tuple):
        return json.dumps(queries.jsonable(value), default=str)
    return "" if value is None else queries.jsonable(value)
