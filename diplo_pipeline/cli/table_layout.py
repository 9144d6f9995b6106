"""How a table of an answer fits a terminal: each cell's text, how narrow a column can be without breaking a
value, and which columns fit at what widths.

A name or a number is never split or shortened: only free text (messages, hypotheses) wraps, between words.
The key columns of a table (which row it is, what it found) are kept when not every column fits. Printing is
output.py's job.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from dataclasses import dataclass

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from diplo_pipeline.lib import queries

NATURAL_WIDTH = 1_000_000  # what a pipe gets: wider than any table, so nothing is fitted or wrapped
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


def widest_line(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def longest_word(text: str) -> int:
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


def is_number(value) -> bool:
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
            all(is_number(v) for v in values if v is not None) and any(v is not None for v in values),
        )

    @property
    def natural(self) -> int:
        return max([cell_len(self.name), *map(widest_line, self.texts)])

    @property
    def minimum(self) -> int:
        """The narrowest the column can be without breaking a word, a name or a number (or its header)."""
        cells = [longest_word(t) if prose else widest_line(t) for t, prose in zip(self.texts, self.prose, strict=True)]
        return max([cell_len(self.name), *cells])


def new_table() -> Table:
    # No borders, a rule under the header, two spaces between columns: the most columns per line.
    return Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")


@functools.cache
def _extra_width(columns: int) -> int:
    """What rich adds to the column widths of a table (padding, separators), measured rather than assumed."""
    table = new_table()
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
