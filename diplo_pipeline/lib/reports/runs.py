"""Every run's report files: `runs/<run_name>.html` and `.md`, and the key chart `runs/<run_name>.png`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from diplo_pipeline.lib.reports.data import Warehouse
from diplo_pipeline.lib.reports.names import run_report_files, sweep_page_names
from diplo_pipeline.lib.reports.output import PagesWritten, inputs_digest
from diplo_pipeline.lib.reports.run_data import RunData, load_runs
from diplo_pipeline.lib.reports.run_markdown import run_markdown
from diplo_pipeline.lib.reports.run_page import key_chart_png, run_html
from diplo_pipeline.lib.reports.run_summary import has_key_chart


def render_run_reports(wh: Warehouse, reports_dir: Path) -> tuple[PagesWritten, list[RunData]]:
    """Every run's page, Markdown and key-chart PNG; pages of runs no longer in the warehouse are removed.

    A run whose inputs (and the renderer) are unchanged since its page was written is not rendered again.
    """
    folder = reports_dir / "runs"
    out = PagesWritten(folder)
    sweep_pages = sweep_page_names(s["sweep_name"] for s in wh.rows("sweeps", needs=("sweeps",)))
    loaded = load_runs(wh, sweep_pages)
    for data in loaded:
        html_path, md_path, png_path = run_report_files(reports_dir, data.page).values()
        with_png = has_key_chart(data)
        digest = inputs_digest([data.page, wh.has("findings"), wh.has("power_law_fits"), asdict(data)])
        if out.is_current(html_path, digest, [md_path, png_path] if with_png else [md_path]):
            continue
        if with_png:
            out.put(png_path, key_chart_png(data))
        out.put(html_path, run_html(wh, data, digest))
        out.put(md_path, run_markdown(wh, data, with_png))
    if wh.has("runs"):  # a missing table says nothing about which runs exist: keep their pages then
        out.remove_stale(folder, (".html", ".md", ".png"))
    return out, loaded
