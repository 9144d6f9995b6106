"""Report assets: the files of WAREHOUSE.md "Reports" under `<data>/reports/`, rebuilt when their tables change.

Each asset is wiring over `diplo_pipeline/lib/reports/`: it opens the lake as the catalog shows it, renders,
and reports what a person wants to see in the Dagster UI without opening a file: how many pages were written
or left unchanged, where they are, and a preview (`lib/reports/ui_previews.py`: for run reports, the newest
run's key chart).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg

from diplo_pipeline.defs.keys import FINDINGS, POWER_LAW_FITS
from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.defs.warehouse.sql_models import PROJECT, asset_key, lake_connection
from diplo_pipeline.lib.reports import (
    PagesWritten,
    Warehouse,
    render_nightly_digest,
    render_run_reports,
    render_sweep_reports,
    render_tracker,
)
from diplo_pipeline.lib.reports.run_summary import has_key_chart
from diplo_pipeline.lib.reports.ui_previews import key_chart_preview, newest_entry, page_links, run_index
from diplo_pipeline.lib.warehouse.sql_runner import hold_partitioned_in_memory

# The tables each report reads. A run's page links to its sweep's page, so it waits for `sweeps` too: without
# it, a first build could render the run pages before the sweeps were built, and leave the links out.
RUN_TABLES = (
    "runs", "run_steps", "run_learning", "elo_ratings", "elo_gap", "elo_agent_summary", "evaluations", "rollouts",
    "extraction_by_power", "cache_stats", "metric_points", "sweeps",
)
SWEEP_TABLES = ("runs", "sweeps", "sweep_runs", "run_steps", "elo_gap", "metric_points")
NIGHTLY_TABLES = (
    "runs", "run_steps", "run_learning", "health_hourly", "cache_stats", "extraction_by_power", "axiom_events",
)
OWNERS = ["team:diplo-pipeline"]
CHART_KINDS = {"python", "altair", "html"}


def _report_connection(diplo: DiploData):
    """The lake as the catalog shows it, with the per-run tables held in memory: the reports ask for one run at a
    time, dozens of times."""
    con = lake_connection(diplo)
    hold_partitioned_in_memory(con, PROJECT)
    return con


def _render(diplo: DiploData, renderer: Callable[[Warehouse, Path], PagesWritten]) -> PagesWritten:
    with _report_connection(diplo) as con:
        return renderer(Warehouse(con), diplo.paths().reports)


def _counts(out: PagesWritten) -> dict[str, dg.RawMetadataValue]:
    return {
        "pages_written": len(out.written),
        "pages_unchanged": len(out.unchanged),
        "pages_removed": len(out.removed),
        "folder": dg.MetadataValue.path(str(out.root)),
    }


@dg.asset(
    key=["reports", "run_reports"],
    deps=[asset_key(name) for name in RUN_TABLES] + [FINDINGS, POWER_LAW_FITS],
    group_name="reports",
    kinds=CHART_KINDS,
    owners=OWNERS,
    description=(
        "One report per run: `reports/runs/<run_name>.html` (offline: Vega inlined), `.md`, and the key chart "
        "(reward ± std beside the Elo gap) as `.png`. Configuration, state, training dynamics, throughput, "
        "extraction, rollout reliability, cache, ratings, findings with hypotheses, power-law fits."
    ),
)
def run_reports(diplo: DiploData) -> dg.MaterializeResult:
    with _report_connection(diplo) as con:
        out, runs = render_run_reports(Warehouse(con), diplo.paths().reports)
    metadata = _counts(out) | {"runs": len(runs)}
    charted = [d for d in runs if has_key_chart(d)]  # evaluation runs, say, have no curves to show
    if charted:
        newest = charted[-1]  # runs are ordered by start time
        metadata["newest_run"] = dg.MetadataValue.md(key_chart_preview(newest, out.root))
        metadata["newest_run_report"] = dg.MetadataValue.path(str(out.root / f"{newest.page}.html"))
    if runs:
        metadata["index"] = dg.MetadataValue.md(run_index(runs))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=["reports", "sweep_reports"],
    deps=[asset_key(name) for name in SWEEP_TABLES] + [POWER_LAW_FITS],
    group_name="reports",
    kinds=CHART_KINDS,
    owners=OWNERS,
    description=(
        "One page per sweep, `reports/sweeps/<sweep_name>.html`: verdict and success criteria, ranking by final "
        "Elo gap, the parameters that vary, and every run's curves side by side."
    ),
)
def sweep_reports(diplo: DiploData) -> dg.MaterializeResult:
    out = _render(diplo, render_sweep_reports)
    return dg.MaterializeResult(metadata=_counts(out) | {
        "pages": dg.MetadataValue.md(page_links(out.paths, empty="_no sweeps_")),
    })


@dg.asset(
    key=["reports", "nightly_digest"],
    deps=[asset_key(name) for name in NIGHTLY_TABLES] + [FINDINGS],
    group_name="reports",
    kinds=CHART_KINDS,
    owners=OWNERS,
    description=(
        "`reports/nightly/<YYYY-MM-DD>.html` and `nightly/latest.html`: the 24 hours before the newest data "
        "(not the clock): runs that started, finished or crashed, new findings, pipeline health."
    ),
)
def nightly_digest(diplo: DiploData) -> dg.MaterializeResult:
    out = _render(diplo, render_nightly_digest)
    latest = out.root / "latest.html"
    metadata = _counts(out)
    if latest.exists():
        metadata["latest"] = dg.MetadataValue.path(str(latest))
        metadata["days"] = dg.MetadataValue.md(page_links(sorted(out.root.glob("2*.html"), reverse=True), empty=""))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=["reports", "experiment_tracker"],
    deps=[asset_key(name) for name in RUN_TABLES] + [FINDINGS, POWER_LAW_FITS],
    group_name="reports",
    kinds={"python", "markdown"},
    owners=OWNERS,
    description=(
        "`reports/tracker.md`: one entry per run, newest first, in the experiment-tracker layout (hypothesis, "
        "config changes, status, results, issues), written from the warehouse."
    ),
)
def experiment_tracker(diplo: DiploData) -> dg.MaterializeResult:
    out = _render(diplo, render_tracker)
    tracker = out.root / "tracker.md"
    text = tracker.read_text()
    return dg.MaterializeResult(metadata=_counts(out) | {
        "path": dg.MetadataValue.path(str(tracker)),
        "entries": text.count("\n## "),
        "newest_entry": dg.MetadataValue.md(newest_entry(text)),
    })
