"""Report assets: the files of WAREHOUSE.md "Reports" under `<data>/reports/`, rebuilt when their tables change.

Each asset is wiring over `diplo_pipeline/lib/reports/`: it opens the lake as the catalog shows it, renders,
and reports what a person wants to see in the Dagster UI without opening a file: how many pages were written
or left unchanged, where they are, and a preview (`lib/reports/ui_previews.py`: for run reports, the newest
run's key chart).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager

import dagster as dg

from diplo_pipeline.defs.keys import FINDINGS, POWER_LAW_FITS, SWEEP_DEFINITIONS
from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.defs.warehouse.project import PROJECT, asset_key, lake_connection
from diplo_pipeline.lib.reports import (
    PagesWritten,
    Warehouse,
    render_nightly_digest,
    render_run_reports,
    render_sweep_reports,
    render_tracker,
)
from diplo_pipeline.lib.reports.ui_previews import index_rows, key_chart_preview, newest_entry, page_links, run_index
from diplo_pipeline.lib.warehouse.partitions import built_fingerprints
from diplo_pipeline.lib.warehouse.sql_runner import hold_in_memory, hold_partitioned_in_memory

# The tables each report reads. A run's page links to its sweep's page, so it waits for `sweeps` too: without
# it, a first build could render the run pages before the sweeps were built, and leave the links out.
RUN_TABLES = (
    "runs", "run_steps", "run_learning", "elo_ratings", "elo_gap", "elo_agent_summary", "evaluations", "rollouts",
    "extraction_by_power", "cache_stats", "metric_points", "sweeps", "run_artifacts", "run_tables", "run_replays",
    "health_hourly", "int_axiom__event_runs",
)
SWEEP_TABLES = ("runs", "sweeps", "sweep_runs", "run_steps", "elo_gap", "metric_points")
NIGHTLY_TABLES = (
    "runs", "run_steps", "run_learning", "health_hourly", "cache_stats", "extraction_by_power", "axiom_events",
)
# What decides which pages are out of date, read across every run: one row a run (or a few), never a run's
# steps or points (lib/reports/page_inputs.py). The rows of the pages to render come from the tables above,
# on a connection holding only the runs those pages draw (`_runs_loader`).
ATTRIBUTION = "int_axiom__event_runs"  # each Axiom event's run: page inputs, and the pages' own events
RUN_INDEX_TABLES = (
    "runs", "sweeps", "rollouts", "evaluations", "cache_stats", "extraction_by_power", "run_learning", ATTRIBUTION,
)
SWEEP_INDEX_TABLES = ("runs", "sweeps", "sweep_runs")
# The tracker reads the run index, each run's baseline row and the sweep entries' small tables across runs,
# with the sweep definitions themselves (a planned sweep has an entry before it has a run).
TRACKER_INDEX_TABLES = (*RUN_INDEX_TABLES, "run_baselines", "sweep_runs", "raw_sweeps__definitions")
NIGHTLY_INDEX_TABLES = ("runs", "axiom_events")
OWNERS = ["team:diplo-pipeline"]
CHART_KINDS = {"python", "altair", "html"}


def _partition_fingerprints(diplo: DiploData) -> Callable[[Iterable[str]], dict[str, str]]:
    """What each run's partition holds now, by its files (lib/warehouse/partitions.py): a page of a run whose
    files are unchanged needs none of its rows read."""
    lake = diplo.paths().lake
    return lambda run_ids: built_fingerprints(PROJECT, lake, "run_id", run_ids)


def _runs_loader(
    diplo: DiploData, reading: tuple[str, ...], index: Warehouse | None = None, in_memory: bool = True
):
    """A Warehouse over the tables in `reading` whose per-run tables hold only the runs asked for (in memory
    with `in_memory`: a page asks a dozen queries of its run); the whole tables are as the catalog shows them.

    With `index` (every run's), the runs' attributed Axiom events are taken from there: attributing them on the
    loaded runs alone would see only their windows, and an event another run's window overlaps (ambiguous in
    the catalog) would count for the loaded run. Taken once, they also spare each page the attribution."""

    @contextmanager
    def load(run_ids: list[str]) -> Iterator[Warehouse]:
        con = lake_connection(diplo, reading=reading, partition_keys=run_ids, dimension="run_id")
        try:
            if in_memory:
                hold_partitioned_in_memory(con, PROJECT, dimension="run_id")
            loaded = Warehouse(con)
            if index is not None and loaded.has(ATTRIBUTION) and index.has(ATTRIBUTION, "runs"):
                attributed = index.con.execute(
                    f"select a.* from {ATTRIBUTION} as a inner join runs as r using (run_name) "
                    "where r.run_id in (select unnest($run_ids))", {"run_ids": run_ids}).arrow()
                con.register("__attributed", attributed)
                hold_in_memory(con, ATTRIBUTION, "select * from __attributed")
                con.unregister("__attributed")
            yield loaded
        finally:
            con.close()

    return load


def _index_connection(diplo: DiploData, reading: tuple[str, ...]):
    """The lake as the catalog shows it, with the tables in `reading` and the Python marts only: defining a
    relation over every run's files costs milliseconds a run, so a connection defines what it asks."""
    return closing(lake_connection(diplo, reading=reading))


def _render(
    diplo: DiploData, reading: tuple[str, ...], renderer: Callable[..., PagesWritten], *args
) -> PagesWritten:
    """`renderer` over the tables in `reading`, told how to read only the runs it needs."""
    with _index_connection(diplo, reading) as con:
        return renderer(Warehouse(con), diplo.paths().reports, *args)


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
    with _index_connection(diplo, RUN_INDEX_TABLES) as con:
        wh = Warehouse(con)
        load = _runs_loader(diplo, RUN_TABLES, wh)
        pages = render_run_reports(wh, diplo.paths().reports, _partition_fingerprints(diplo), load)
        index = index_rows(wh, pages.index)
    out = pages.out
    metadata = _counts(out) | {"runs": len(pages.index.runs), "pages_rendered": len(pages.rendered)}
    # evaluation runs, say, have no curves to show: the newest run with a key chart (runs are oldest first)
    charted = [run for run in pages.index.runs if (out.root / f"{pages.index.pages[run['run_id']]}.png").exists()]
    if charted:
        newest, page = charted[-1], pages.index.pages[charted[-1]["run_id"]]
        metadata["newest_run"] = dg.MetadataValue.md(key_chart_preview(newest, page, out.root))
        metadata["newest_run_report"] = dg.MetadataValue.path(str(out.root / f"{page}.html"))
    if index:
        metadata["index"] = dg.MetadataValue.md(run_index(index))
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
    load = _runs_loader(diplo, SWEEP_TABLES)
    out = _render(diplo, SWEEP_INDEX_TABLES, render_sweep_reports, _partition_fingerprints(diplo), load)
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
    # the window's runs are read by grouped queries, not one run at a time: no copy in memory
    load = _runs_loader(diplo, NIGHTLY_TABLES, in_memory=False)
    out = _render(diplo, NIGHTLY_INDEX_TABLES, render_nightly_digest, load)
    latest = out.root / "latest.html"
    metadata = _counts(out)
    if latest.exists():
        metadata["latest"] = dg.MetadataValue.path(str(latest))
        metadata["days"] = dg.MetadataValue.md(page_links(sorted(out.root.glob("2*.html"), reverse=True), empty=""))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=["reports", "experiment_tracker"],
    deps=[asset_key(name) for name in (*RUN_TABLES, "sweep_runs", "run_baselines")]
    + [FINDINGS, POWER_LAW_FITS, SWEEP_DEFINITIONS],
    group_name="reports",
    kinds={"python", "markdown"},
    owners=OWNERS,
    description=(
        "`reports/tracker.md`: one entry per sweep definition (hypothesis, config variants, command, status, "
        "results, and the hand-written notes.md beside its sweep.yaml) and one per run, newest first, in the "
        "experiment-tracker layout (hypothesis, config changes, status, results, issues), written from the "
        "warehouse."
    ),
)
def experiment_tracker(diplo: DiploData) -> dg.MaterializeResult:
    entries = diplo.paths().state / "reports" / "tracker_entries.json"  # each entry with what it was written from
    with _index_connection(diplo, TRACKER_INDEX_TABLES) as con:
        wh = Warehouse(con)
        load = _runs_loader(diplo, RUN_TABLES, wh)
        out = render_tracker(wh, diplo.paths().reports, _partition_fingerprints(diplo), load, entries)
    tracker = out.root / "tracker.md"
    text = tracker.read_text()
    return dg.MaterializeResult(metadata=_counts(out) | {
        "path": dg.MetadataValue.path(str(tracker)),
        "entries": text.count("\n## ") - text.count("\n## Sweep "),  # runs; the sweeps are counted apart
        "sweep_entries": text.count("\n## Sweep "),
        "newest_entry": dg.MetadataValue.md(newest_entry(text)),
    })
