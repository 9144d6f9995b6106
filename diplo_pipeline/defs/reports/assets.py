"""Report assets: the files of WAREHOUSE.md "Reports" under `<data>/reports/`, rebuilt when their tables change.

Each asset is a thin wrapper over `diplo_pipeline/lib/reports/`: it opens the lake as the catalog shows it,
renders, and reports what a person wants to see in the Dagster UI without opening a file: how many pages were
written or left unchanged, where they are, and a preview (for run reports, the newest run's key chart).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.defs.warehouse.sql_models import asset_key, lake_connection
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.reports import (
    PagesWritten,
    Warehouse,
    render_nightly_digest,
    render_run_reports,
    render_sweep_reports,
    render_tracker,
)
from diplo_pipeline.lib.reports.markdown import md_text
from diplo_pipeline.lib.reports.runs import RunData, has_key_chart

FINDINGS = dg.AssetKey(["marts", "findings"])
POWER_LAW_FITS = dg.AssetKey(["marts", "power_law_fits"])
RUN_TABLES = (
    "runs", "run_steps", "run_learning", "elo_ratings", "elo_gap", "elo_agent_summary", "evaluations", "rollouts",
    "extraction_by_power", "cache_stats", "metric_points",
)
SWEEP_TABLES = ("runs", "sweeps", "sweep_runs", "run_steps", "elo_gap", "metric_points")
NIGHTLY_TABLES = (
    "runs", "run_steps", "run_learning", "health_hourly", "cache_stats", "extraction_by_power", "axiom_events",
)
OWNERS = ["team:diplo-pipeline"]
CHART_KINDS = {"python", "altair", "html"}


def _render(diplo: DiploData, renderer: Callable[[Warehouse, Path], PagesWritten]) -> PagesWritten:
    con = lake_connection(diplo)
    try:
        return renderer(Warehouse(con), diplo.paths().reports)
    finally:
        con.close()


def _counts(out: PagesWritten) -> dict[str, dg.RawMetadataValue]:
    return {
        "pages_written": len(out.written),
        "pages_unchanged": len(out.unchanged),
        "pages_removed": len(out.removed),
        "folder": dg.MetadataValue.path(str(out.root)),
    }


def _key_chart_preview(data: RunData, folder: Path) -> str:
    """The run's key chart inline (the UI renders a data-URI image) with a link to its page."""
    image = base64.b64encode((folder / f"{data.page}.png").read_bytes()).decode()
    page = (folder / f"{data.page}.html").as_uri()
    name = md_text(data.name)  # a display name is anyone's text: never markup in the UI
    return (
        f"**{name}** ({md_text(data.run.get('state'))})\n\n"
        f"![key chart of {name}](data:image/png;base64,{image})\n\n[Open the full report]({page})"
    )


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
    written: dict[str, list[RunData]] = {}

    def render(wh: Warehouse, reports: Path) -> PagesWritten:
        out, written["runs"] = render_run_reports(wh, reports)
        return out

    out = _render(diplo, render)
    runs = written["runs"]
    metadata = _counts(out) | {"runs": len(runs)}
    charted = [d for d in runs if has_key_chart(d)]  # evaluation runs, say, have no curves to show
    if charted:
        newest = charted[-1]  # runs are ordered by start time
        metadata["newest_run"] = dg.MetadataValue.md(_key_chart_preview(newest, out.root))
        metadata["newest_run_report"] = dg.MetadataValue.path(str(out.root / f"{newest.page}.html"))
    if runs:
        metadata["index"] = dg.MetadataValue.md(markdown_table([
            {"run": d.name, "state": d.run.get("state"), "learning signal": (d.learning or {}).get("learning_signal"),
             "warn/error findings": sum(1 for f in d.findings if f["severity"] in ("warn", "error")),
             "page": f"runs/{d.page}.html"}
            for d in reversed(runs)
        ], limit=50))
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
        "pages": dg.MetadataValue.md("\n".join(f"- [{p.stem}]({p.as_uri()})" for p in out.paths) or "_no sweeps_"),
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
        metadata["days"] = dg.MetadataValue.md(
            "\n".join(f"- [{p.stem}]({p.as_uri()})" for p in sorted(out.root.glob("2*.html"), reverse=True))
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=["reports", "experiment_tracker"],
    deps=[asset_key(name) for name in RUN_TABLES + ("sweeps",)] + [FINDINGS, POWER_LAW_FITS],
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
    newest_entry = text.split("\n## ", 2)[1] if "\n## " in text else "_no runs yet_"
    return dg.MaterializeResult(metadata=_counts(out) | {
        "path": dg.MetadataValue.path(str(tracker)),
        "entries": text.count("\n## "),
        "newest_entry": dg.MetadataValue.md("## " + newest_entry),
    })
