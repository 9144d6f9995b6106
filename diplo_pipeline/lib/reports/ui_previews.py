"""What the report assets show in the Dagster UI without opening a file: the newest run's key chart, an
index of the run pages, links to the pages and the tracker's newest entry, all as Markdown."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path

from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.reports.markdown import md_text
from diplo_pipeline.lib.reports.run_data import RunData

INDEX_ROWS = 50  # run pages listed in the run reports' index, newest first


def key_chart_preview(data: RunData, folder: Path) -> str:
    """The run's key chart inline (the UI renders a data-URI image) with a link to its page."""
    image = base64.b64encode((folder / f"{data.page}.png").read_bytes()).decode()
    page = (folder / f"{data.page}.html").as_uri()
    name = md_text(data.name)  # a display name is anyone's text: never markup in the UI
    return (
        f"**{name}** ({md_text(data.run.get('state'))})\n\n"
        f"![key chart of {name}](data:image/png;base64,{image})\n\n[Open the full report]({page})"
    )


def run_index(runs: list[RunData]) -> str:
    """The run pages, newest first, with what a person scans for."""
    return markdown_table([
        {"run": d.name, "state": d.run.get("state"), "learning signal": (d.learning or {}).get("learning_signal"),
         "warn/error findings": sum(1 for f in d.findings if f["severity"] in ("warn", "error")),
         "page": f"runs/{d.page}.html"}
        for d in reversed(runs)
    ], limit=INDEX_ROWS)


def page_links(pages: Iterable[Path], empty: str) -> str:
    """A Markdown list linking each page by its file name."""
    return "\n".join(f"- [{p.stem}]({p.as_uri()})" for p in pages) or empty


def newest_entry(tracker: str) -> str:
    """The first (newest) entry of tracker.md, heading included."""
    return "## " + (tracker.split("\n## ", 2)[1] if "\n## " in tracker else "_no runs yet_")
