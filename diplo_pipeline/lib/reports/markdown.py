"""Markdown blocks for the `.md` reports and tracker.md (GitHub-flavoured tables)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from diplo_pipeline.lib.reports.text import fmt


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def md_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str | Callable[[dict[str, Any]], str]]],
    empty: str = "_none_",
) -> str:
    """Each column is (heading, key) or (heading, function of the row returning text)."""
    if not rows:
        return empty
    lines = ["| " + " | ".join(heading for heading, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [source(row) if callable(source) else fmt(row.get(source)) for _, source in columns]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)
