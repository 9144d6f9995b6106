"""What the report assets show in the Dagster UI without opening a file: the newest run's key chart, an
index of the run pages, links to the pages and the tracker's newest entry, all as Markdown."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from diplo_pipeline.lib.analytics.verdicts import learning_signal_text
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.reports.data import Warehouse
from diplo_pipeline.lib.reports.markdown import md_text
from diplo_pipeline.lib.reports.page_inputs import RunIndex

INDEX_ROWS = 50  # run pages listed in the run reports' index, newest first


def key_chart_preview(run: dict[str, Any], page: str, folder: Path) -> str:
    """The run's key chart inline (the UI renders a data-URI image) with a link to its page."""
    image = base64.b64encode((folder / f"{page}.png").read_bytes()).decode()
    link = (folder / f"{page}.html").as_uri()
    name = md_text(run["run_name"])  # a display name is anyone's text: never markup in the UI
    return (
        f"**{name}** ({md_text(run.get('state'))})\n\n"
        f"![key chart of {name}](data:image/png;base64,{image})\n\n[Open the full report]({link})"
    )


def index_rows(wh: Warehouse, index: RunIndex) -> list[dict[str, Any]]:
    """The index's rows, newest first, from the one-row-a-run tables (no run's steps are read)."""
    flagged = {row["run_id"]: row["flagged"] for row in wh.rows("flagged_findings", needs=("findings",))}
    return [
        {"run": row["run_name"], "state": row["state"], "learning signal": learning_signal_text(row),
         "warn/error findings": flagged.get(row["run_id"], 0), "page": f"runs/{index.pages[row['run_id']]}.html"}
        for row in wh.rows("run_index", needs=("runs", "run_learning"))[:INDEX_ROWS]
    ]


def run_index(rows: list[dict[str, Any]]) -> str:
    """The run pages, newest first, with what a person scans for."""
    return markdown_table(rows, limit=INDEX_ROWS)


def page_links(pages: Iterable[Path], empty: str) -> str:
    """A Markdown list linking each page by its file name."""
    return "\n".join(f"- [{p.stem}]({p.as_uri()})" for p in pages) or empty


def newest_entry(tracker: str) -> str:
    """The first (newest) entry of tracker.md, heading included."""
    return "## " + (tracker.split("\n## ", 2)[1] if "\n## " in tracker else "_no runs yet_")
