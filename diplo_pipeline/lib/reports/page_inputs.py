"""Which run pages are out of date, decided without reading any run's rows.

A run's page shows its own partition of the per-run tables and its slice of a few whole tables (the rollouts
attributed to it, the evaluations other runs made of it, its findings, the fits its points went into with
every point behind them, the cache hours and extraction days it was active, the Axiom events attributed to
it). Its inputs fingerprint is made of small things only: the run's row of `runs`, the fingerprint of its
partition's files (size and mtime, `lib/warehouse/partitions.built_fingerprints`, given by the caller), one
fingerprint per run of each whole table's slice (`analyses/reports/page_inputs_*.sql`, each one grouped
query over that table, mostly with the macro `rows_digest`), the page names it links, and the renderer. A
page whose stored fingerprint is this one is neither read nor rendered; only the pages of a changed run (and
of the runs whose fits or evaluations it joined) are loaded, on a connection holding those runs' partitions
alone (`RunLoader`).

A new whole table read by a page adds its slice here (a `page_inputs_<table>.sql` with `key`, `digest`);
a new per-run table needs nothing: its partition files are in the partition fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from diplo_pipeline.lib.reports.data import Warehouse
from diplo_pipeline.lib.reports.names import run_page_names, sweep_page_names
from diplo_pipeline.lib.reports.output import inputs_digest

# run ids -> the fingerprint of each one's partition files (the caller knows the lake; lib/reports does not)
PartitionFingerprints = Callable[[Iterable[str]], dict[str, str]]
# run ids -> a Warehouse whose per-run tables hold those runs' rows only (in memory: a page asks a dozen
# queries of its run)
RunLoader = Callable[[list[str]], AbstractContextManager[Warehouse]]


@dataclass
class RunIndex:
    """Every run, oldest first, with the file names of its page and of its sweep's page."""

    runs: list[dict[str, Any]]
    pages: dict[str, str]  # run_id -> page file name
    sweep_pages: dict[str, str]  # sweep_name -> page file name

    @classmethod
    def of(cls, wh: Warehouse) -> RunIndex:
        runs = wh.rows("runs", needs=("runs",))
        sweeps = sweep_page_names(s["sweep_name"] for s in wh.rows("sweeps", needs=("sweeps",)))
        return cls(runs, run_page_names(runs), sweeps)

    def sweep_page(self, run: dict[str, Any]) -> str | None:
        return self.sweep_pages.get(run.get("sweep_name"))


@dataclass
class PageInputs:
    """Every run's page inputs fingerprint, and the other runs a re-rendered page of it also reads."""

    digests: dict[str, str] = field(default_factory=dict)
    companions: dict[str, set[str]] = field(default_factory=dict)  # run_id -> run ids its page draws too

    def runs_to_load(self, run_ids: Iterable[str]) -> list[str]:
        wanted = set(run_ids)
        return sorted(wanted.union(*(self.companions.get(r, set()) for r in wanted)))


# The per-run tables a run's page reads (lib/reports/run_data.py, and the fit charts' points): what
# `rows_fingerprints` fingerprints when no lake files say what a run's partition holds.
PER_RUN_TABLES = (
    "runs", "run_steps", "run_learning", "elo_ratings", "elo_gap", "elo_agent_summary", "evaluations", "metric_points",
)


def rows_fingerprints(wh: Warehouse) -> PartitionFingerprints:
    """Without the lake (a reader of the catalog alone): each run's rows of the per-run tables, fingerprinted
    in SQL (one grouped query a table: dearer than the files' stats, the same answer)."""
    digests = {
        table: {row["key"]: row["digest"] for row in wh.rows("run_rows_digest", needs=(table,), table=table)}
        for table in PER_RUN_TABLES
    }
    return lambda run_ids: {r: inputs_digest([digests[t].get(r) for t in PER_RUN_TABLES]) for r in run_ids}


def same_warehouse(wh: Warehouse) -> RunLoader:
    """Every run's rows from `wh` itself (a catalog, or a connection already holding them)."""
    return lambda _run_ids: nullcontext(wh)


def _slices(wh: Warehouse, query: str, table: str) -> dict[Any, dict[str, Any]]:
    return {row["key"]: row for row in wh.rows(query, needs=(table,))}


def _active_days(run: dict[str, Any]) -> tuple[Any, Any]:
    """The UTC days a run was active, as its page's extraction table counts them (lib/reports/run_data.py)."""
    last = run.get("last_timestamp") or run.get("finished_at") or run.get("created_at")
    if not run.get("created_at") or not last:
        return None, None
    return run["created_at"].astimezone(UTC).date(), last.astimezone(UTC).date()


def page_inputs(wh: Warehouse, index: RunIndex, partitions: PartitionFingerprints) -> PageInputs:
    """The inputs fingerprint of every run's page (see the module's docstring)."""
    held = partitions([run["run_id"] for run in index.runs])
    rollouts = _slices(wh, "page_inputs_rollouts", "rollouts")
    evaluations = _slices(wh, "page_inputs_evaluations", "evaluations")
    findings = _slices(wh, "page_inputs_findings", "findings")
    fits = _slices(wh, "page_inputs_fits", "power_law_fits")
    cache = _slices(wh, "page_inputs_cache", "cache_stats") if wh.has("runs") else {}
    events = _slices(wh, "page_inputs_events", "int_axiom__event_runs")
    days = sorted(_slices(wh, "page_inputs_extraction", "extraction_by_power").items())
    built = [wh.has("findings"), wh.has("power_law_fits")]
    out = PageInputs()
    for run in index.runs:
        run_id, name = run["run_id"], run["run_name"]
        first_day, last_day = _active_days(run)
        fit = fits.get(run_id, {})
        evaluated = evaluations.get(name, {})
        out.companions[run_id] = set(fit.get("run_ids") or []) | set(evaluated.get("run_ids") or [])
        out.digests[run_id] = inputs_digest([
            index.pages[run_id], index.sweep_page(run), run, held[run_id], built,
            rollouts.get(name, {}).get("digest"), evaluated.get("digest"), findings.get(run_id, {}).get("digest"),
            fit.get("digest"), cache.get(run_id, {}).get("digest"), events.get(name, {}).get("digest"),
            [(day, d["digest"]) for day, d in days if first_day and first_day <= day <= last_day],
            # what the page draws of its fits' other runs: their points, their names
            sorted(held.get(r) or "" for r in out.companions[run_id]),
        ])
    return out
