"""Every run's report files: `runs/<run_name>.html` and `.md`, and the key chart `runs/<run_name>.png`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from diplo_pipeline.lib.reports.data import Warehouse
from diplo_pipeline.lib.reports.names import run_report_files
from diplo_pipeline.lib.reports.output import PagesWritten
from diplo_pipeline.lib.reports.page_inputs import (
    PageInputs,
    PartitionFingerprints,
    RunIndex,
    RunLoader,
    page_inputs,
    rows_fingerprints,
    same_warehouse,
)
from diplo_pipeline.lib.reports.run_data import RunData, load_run
from diplo_pipeline.lib.reports.run_markdown import run_markdown
from diplo_pipeline.lib.reports.run_page import key_chart_png, run_html
from diplo_pipeline.lib.reports.run_summary import has_key_chart


@dataclass
class RunPages:
    """What a rendering of the run pages did: the files, every run (oldest first), the runs rendered."""

    out: PagesWritten
    index: RunIndex
    rendered: list[RunData] = field(default_factory=list)
    inputs: PageInputs = field(default_factory=PageInputs)


def render_run_reports(
    wh: Warehouse, reports_dir: Path, partitions: PartitionFingerprints | None = None, load: RunLoader | None = None
) -> RunPages:
    """Every run's page, Markdown and key-chart PNG; pages of runs no longer in the warehouse are removed.

    A run whose page inputs (lib/reports/page_inputs.py) and renderer are unchanged since its page was written
    is neither read nor rendered: `wh` (every table, as the catalog shows it) answers the few grouped queries
    that decide it, and `load` opens the rows of the runs to render only. Without them (a catalog alone),
    `wh` answers both, at a cost that grows with the runs it holds.
    """
    folder = reports_dir / "runs"
    index = RunIndex.of(wh)
    partitions, load = partitions or rows_fingerprints(wh), load or same_warehouse(wh)
    pages = RunPages(PagesWritten(folder), index, inputs=page_inputs(wh, index, partitions))
    out, stale = pages.out, []
    for run in index.runs:
        html_path, md_path, png_path = run_report_files(reports_dir, index.pages[run["run_id"]]).values()
        # the key chart belongs to the page when its Markdown shows it (a run without curves has none)
        charted = md_path.exists() and f"]({png_path.name})" in md_path.read_text()
        if not out.is_current(html_path, pages.inputs.digests[run["run_id"]], [md_path, png_path][:1 + charted]):
            stale.append(run)
    if stale:
        with load(pages.inputs.runs_to_load(r["run_id"] for r in stale)) as runs_wh:
            for run in stale:
                data = load_run(runs_wh, run, index.pages[run["run_id"]], index.sweep_page(run))
                _write(runs_wh, out, reports_dir, data, pages.inputs.digests[run["run_id"]])
                pages.rendered.append(data)
    if wh.has("runs"):  # a missing table says nothing about which runs exist: keep their pages then
        out.remove_stale(folder, (".html", ".md", ".png"))
    return pages


def _write(wh: Warehouse, out: PagesWritten, reports_dir: Path, data: RunData, digest: str) -> None:
    html_path, md_path, png_path = run_report_files(reports_dir, data.page).values()
    with_png = has_key_chart(data)
    if with_png:  # else an old chart of the run, if any, is removed with the stale files
        out.put(png_path, key_chart_png(data))
    out.put(html_path, run_html(wh, data, digest))
    out.put(md_path, run_markdown(wh, data, with_png))
