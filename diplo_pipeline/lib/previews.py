"""Small helpers that turn results into metadata a person can read in the Dagster UI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def markdown_table(rows: Sequence[dict[str, Any]], limit: int = 10) -> str:
    if not rows:
        return "_no rows_"
    columns = list(rows[0].keys())
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows[:limit]:
        cells = [str(row.get(c, "")).replace("|", "\\|").replace("\n", " ")[:80] for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    if len(rows) > limit:
        lines.append(f"\n_{len(rows) - limit} more rows_")
    return "\n".join(lines)


def arrow_columns(schema) -> list[tuple[str, str]]:
    """(name, type) of an Arrow schema, for the column schema the Dagster UI shows."""
    return [(field.name, str(field.type)) for field in schema]
