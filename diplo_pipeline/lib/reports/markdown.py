"""Markdown for the `.md` reports and tracker.md (GitHub-flavoured), with text from runs and sweep files escaped.

Names, notes, hypotheses, tags and config values come from whoever wrote the run or the sweep.yaml: in a
Markdown page they must read as the text they are, never as emphasis, links, table cells or HTML (a
`<script>` in a hypothesis must not become a script element where the page is rendered).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from diplo_pipeline.lib.reports.text import fmt

# Punctuation that means something inline in GitHub Markdown: emphasis and strikethrough, code, links and
# images, table cells, math, and backslash itself. `_` between two letters or digits is plain text in GFM
# (names like adapter_v150 stay readable); anywhere else it is escaped too.
_INLINE = re.compile(r"[\\`*\[\]|~$]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}  # entities work in Markdown and inside HTML blocks alike


def md_text(text: Any) -> str:
    """Any text as literal inline Markdown: one line, nothing in it read as markup or HTML."""
    escaped = _INLINE.sub(lambda m: "\\" + m.group(0), " ".join(str(text).split()))
    return re.sub(r"[&<>]", lambda m: _HTML[m.group(0)], escaped)


def _fence(text: str, at_least: int) -> str:
    """A run of backticks longer than any inside `text` (and at least `at_least` long)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(at_least, longest + 1)


def md_code(text: Any) -> str:
    """Text as an inline code span (where nothing is markup or HTML): its fence has more backticks than any
    run inside it, so none can close it. In a table cell, md_table escapes its `|`."""
    text = " ".join(str(text).split())
    fence = _fence(text, at_least=1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}"


def code_block(text: str, language: str = "") -> str:
    """A fenced block that no line of `text` can end: its fence is longer than any backtick run inside."""
    fence = _fence(text, at_least=3)
    return f"{fence}{language}\n{text}\n{fence}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def md_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str | Callable[[dict[str, Any]], str]]],
    empty: str = "_none_",
) -> str:
    """Each column is (heading, key) or (heading, function of the row returning Markdown). Values under a
    key are escaped; a function's Markdown is taken as it is (only its `|` and line breaks are escaped)."""
    if not rows:
        return empty
    lines = ["| " + " | ".join(heading for heading, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [_cell(source(row)) if callable(source) else md_text(fmt(row.get(source))) for _, source in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
