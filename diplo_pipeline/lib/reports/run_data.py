"""What one run's report shows, read from the warehouse once so that its HTML, its Markdown, its key chart
and its tracker entry agree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

from diplo_pipeline.lib.reports.data import Warehouse, findings_for, run_fits
from diplo_pipeline.lib.reports.names import run_page_names
from diplo_pipeline.lib.reports.targets import operating_targets, run_hours


@dataclass
class RunData:
    """Everything one run's report shows."""

    run: dict[str, Any]
    steps: list[dict[str, Any]]
    learning: dict[str, Any] | None
    ratings: list[dict[str, Any]]
    gap: list[dict[str, Any]]
    agents: list[dict[str, Any]]
    evaluations: list[dict[str, Any]]
    artifacts: list[dict[str, Any]]  # its artifacts and logged W&B Tables
    replays: list[dict[str, Any]]
    rollout_hours: list[dict[str, Any]]
    rollout_status: list[dict[str, Any]]
    extraction_by_power: list[dict[str, Any]]
    cache_hours: list[dict[str, Any]]
    targets: list[dict[str, Any]]  # the operating targets over the hours of the run's attributed Axiom events
    findings: list[dict[str, Any]]
    fits: list[dict[str, Any]]  # every fit this run's points went into: its own, its tags', its sweep's
    page: str  # file name of the run's report, without suffix
    sweep_page: str | None = None  # file name of its sweep's report, when that sweep has one

    @property
    def name(self) -> str:
        return self.run["run_name"]


@dataclass
class RunEntry:
    """What a run's tracker entry shows (lib/reports/tracker.py): the run, its steps, learning, evaluations and
    findings. The tracker reads only these, a small part of what a page reads (RunData)."""

    run: dict[str, Any]
    steps: list[dict[str, Any]]
    learning: dict[str, Any] | None
    evaluations: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    page: str

    @property
    def name(self) -> str:
        return self.run["run_name"]


def load_entry(wh: Warehouse, run: dict[str, Any], page: str) -> RunEntry:
    run_id = run["run_id"]
    return RunEntry(
        run=run,
        steps=wh.rows("run_steps", needs=("run_steps",), run_id=run_id),
        learning=wh.one("run_learning", needs=("run_learning",), run_id=run_id),
        evaluations=wh.rows("run_evaluations", needs=("evaluations",), run_id=run_id, run_name=run["run_name"]),
        findings=findings_for(wh, [run_id]),
        page=page,
    )


def load_run(wh: Warehouse, run: dict[str, Any], page: str, sweep_page: str | None = None) -> RunData:
    run_id, name = run["run_id"], run["run_name"]
    first_day = run["created_at"].astimezone(UTC).date() if run.get("created_at") else None
    last_moment = run.get("last_timestamp") or run.get("finished_at") or run.get("created_at")
    last_day = last_moment.astimezone(UTC).date() if last_moment else None
    entry = load_entry(wh, run, page)
    return RunData(
        run=run,
        steps=entry.steps,
        learning=entry.learning,
        ratings=_ratings(wh, run_id),
        gap=wh.rows("run_elo_gap", needs=("elo_gap",), run_id=run_id),
        agents=wh.rows("run_elo_agents", needs=("elo_agent_summary",), run_id=run_id),
        evaluations=entry.evaluations,
        artifacts=wh.rows("run_artifacts", needs=("run_artifacts", "run_tables"), run_id=run_id),
        replays=wh.rows("run_replays", needs=("run_replays",), run_id=run_id),
        rollout_hours=wh.rows("run_rollout_hours", needs=("rollouts",), run_name=name),
        rollout_status=wh.rows("run_rollout_status", needs=("rollouts",), run_name=name),
        extraction_by_power=wh.rows(
            "run_extraction_by_power", needs=("extraction_by_power",), first_day=first_day, last_day=last_day
        ) if first_day else [],
        cache_hours=wh.rows(
            "run_cache_hours", needs=("cache_stats",), run_start=run.get("created_at"), run_end=last_moment
        ) if last_moment else [],
        targets=operating_targets(wh, run_hours(wh, name)),
        findings=entry.findings,
        fits=run_fits(wh, run_id),
        page=page,
        sweep_page=sweep_page,
    )


def _ratings(wh: Warehouse, run_id: str) -> list[dict[str, Any]]:
    """Trainer-scale ratings where the run has them, else eval-scale: the two scales are not comparable."""
    ratings = wh.rows("run_elo_ratings", needs=("elo_ratings",), run_id=run_id)
    scales = {r["scale"] for r in ratings}
    scale = "trainer" if "trainer" in scales else next(iter(sorted(scales)), None)
    return [r for r in ratings if r["scale"] == scale]


def load_runs(wh: Warehouse, sweep_pages: dict[str, str] | None = None) -> list[RunData]:
    """Every run, oldest first, with the file name of its page (and of its sweep's, where `sweep_pages` has it)."""
    runs = wh.rows("runs", needs=("runs",))
    pages = run_page_names(runs)
    sweep_pages = sweep_pages or {}
    return [load_run(wh, run, pages[run["run_id"]], sweep_pages.get(run.get("sweep_name"))) for run in runs]
