"""Recompute the planted behaviours from the generated data and refuse to write a demo that misses one.

The rules are those of WAREHOUSE.md, computed here independently and simply: `health_hourly`, extraction by
(day, power), the cache hit rate from counter differences (selfcheck_events, from the Axiom events), the
healthy run against every `findings` rule that can fire from its rows, the planted divergence, and the sweep
ranking by final Elo gap (selfcheck_runs, from the WandB rows). The computed values go into the manifest.
"""

from __future__ import annotations

import itertools

from diplo_pipeline.demo.axiom_events import AxiomEvent
from diplo_pipeline.demo.league import final_elo_gap
from diplo_pipeline.demo.planted_episodes import DIVERGENCE
from diplo_pipeline.demo.run_catalogue import DemoPlan
from diplo_pipeline.demo.selfcheck_events import cache_facts, extraction_facts, health_facts, rollout_timing_facts
from diplo_pipeline.demo.selfcheck_runs import check_divergence, healthy_run_facts, sweep_facts
from diplo_pipeline.demo.timeline import RunTimeline
from diplo_pipeline.demo.trainer_rows import RunRows

EVENT_BUDGET = (100_000, 250_000)


class PlanNotMet(AssertionError):
    """The generated data does not carry a behaviour the plan declares."""


def verify(
    plan: DemoPlan, timelines: dict[str, RunTimeline], rows: dict[str, RunRows], events: list[AxiomEvent]
) -> dict:
    problems: list[str] = []
    facts = {
        "events": len(events),
        "health": health_facts(events, problems),
        "extraction": extraction_facts(events, problems),
        "cache": cache_facts(events, problems),
        "rollout_timing": rollout_timing_facts(events),
        "healthy_run": healthy_run_facts(plan, rows["healthy"], problems),
        "sweep": sweep_facts(plan, rows, problems),
        "final_elo_gaps": {
            key: final_elo_gap(run.name, [rows[key].by_step[s] for s in sorted(rows[key].by_step)])
            for key, run in plan.runs.items()
            if run.league
        },
    }
    if not EVENT_BUDGET[0] <= len(events) <= EVENT_BUDGET[1]:
        problems.append(f"{len(events)} Axiom events, outside {EVENT_BUDGET}")
    check_divergence(rows[DIVERGENCE.run_key], problems)
    _timeline(timelines, problems)
    if problems:
        raise PlanNotMet("the demo data misses its plan:\n- " + "\n- ".join(problems))
    return facts


def _timeline(timelines: dict[str, RunTimeline], problems: list[str]) -> None:
    spans = sorted((t.start_us, t.end_us, key) for key, t in timelines.items())
    for (_, end, key), (start, _, next_key) in itertools.pairwise(spans):
        if start < end:
            problems.append(f"runs {key} and {next_key} overlap in time")
