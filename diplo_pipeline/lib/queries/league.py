"""Elo analysis of a run and a sweep comparison: analyze_elo.py and analyze_sweep.py done right
(source-data.md §3.3–3.4). The marts already hold the corrected numbers and the verdicts (SQL macros); this
gathers them and words each verdict with the numbers it rests on (lib/analytics/verdicts.py)."""

from __future__ import annotations

import json

import duckdb

from diplo_pipeline.lib.analytics.verdicts import learning_signal_text, rankings, sweep_verdict_text
from diplo_pipeline.lib.queries.core import Answer, QueryError, RunRef, fetch, fetch_one

CHECKPOINT_FIELDS = ("agent", "agent_kind", "checkpoint_step", "initial_elo", "peak_elo", "peak_step", "final_elo",
                     "final_step", "trend", "games_steps")
BASELINE_FIELDS = ("agent", "seed_elo", "initial_elo", "final_elo", "change", "peak_elo", "games_steps")


def _pick(row: dict, fields: tuple[str, ...]) -> dict:
    return {field: row[field] for field in fields}


def elo_analysis(con: duckdb.DuckDBPyConnection, run: RunRef) -> Answer:
    """Checkpoints (peak, peak step, final, trend), baselines (initial, final, change), the best checkpoint,
    the final Elo gap with its 95 % band, baseline exploitation and the learning signal (trainer scale)."""
    params = {"run_id": run.run_id}
    agents = fetch(con, "cli/elo_agents", params)
    if not agents:
        raise QueryError(
            f"run {run.run_name} ({run.run_id}) has no Elo ratings: league training was off or it is not a "
            "training run"
        )
    learning = fetch_one(con, "cli/run_learning", params)
    latest_gap = fetch_one(con, "cli/latest_elo_gap", params)
    by_name = {agent["agent"]: agent for agent in agents}
    best = by_name.get(learning["best_checkpoint"])
    base_model = by_name.get("base_model")
    data = {
        "run_id": run.run_id,
        "run_name": run.run_name,
        "learning_signal": learning["learning_signal"],
        "learning_signal_significant": learning["learning_signal_significant"],
        "learning_signal_verdict": learning_signal_text(learning),
        "checkpoints_rated": learning["checkpoints"],
        "checkpoints_declining": learning["checkpoints_declining"],
        "base_model_trend": learning["base_model_trend"],
        "baseline_exploitation": learning["baseline_exploitation"],
        # analyze_elo's "improvement over base_model" (its name bug always skipped it).
        "improvement_over_base_model": (
            best["peak_elo"] - base_model["initial_elo"] if best and base_model else None
        ),
        "best_checkpoint": _pick(best, ("agent", "peak_elo", "peak_step", "final_elo", "trend")) if best else None,
        "elo_gap": {
            "step": latest_gap["step"] if latest_gap else None,
            "leading_checkpoint": latest_gap["best_checkpoint"] if latest_gap else None,
            "final": learning["final_elo_gap"],
            "ci_low": learning["final_elo_gap_ci_low"],
            "ci_high": learning["final_elo_gap_ci_high"],
            "max": learning["max_elo_gap"],
            "max_ci_low": learning["max_elo_gap_ci_low"],
            "max_ci_high": learning["max_elo_gap_ci_high"],
        },
        "checkpoints": [_pick(a, CHECKPOINT_FIELDS) for a in agents if a["agent_kind"] != "baseline"],
        "baselines": [_pick(a, BASELINE_FIELDS) for a in agents if a["agent_kind"] == "baseline"],
    }
    return Answer(data, agents)


def sweep_comparison(con: duckdb.DuckDBPyConnection, sweep_name: str) -> Answer:
    """The sweep's runs side by side (run-wide aggregates, not last-step values), its rankings and verdict."""
    params = {"sweep_name": sweep_name}
    sweep = fetch_one(con, "cli/sweep", params)
    runs = fetch(con, "cli/sweep_runs", params)
    criteria_met = sweep["success_criteria_met"]
    sweep["success_criteria_met"] = json.loads(criteria_met) if isinstance(criteria_met, str) else criteria_met
    return _comparison(sweep, runs, {run["run_name"]: run["sweep_run_letter"] for run in runs})


def run_set_comparison(con: duckdb.DuckDBPyConnection, runs: list[RunRef]) -> Answer:
    """Any runs judged as one sweep (`diplo sweep --runs A B C`): the same table, rankings and verdict rules."""
    ids = list(dict.fromkeys(run.run_id for run in runs))
    if len(ids) < 2:
        raise QueryError("--runs needs two runs or more to compare")
    summary = fetch_one(con, "cli/run_set", {"run_ids": ids})
    rows = summary.pop("sweep_runs")
    return _comparison({"sweep_name": None, **summary}, rows, {})


def _comparison(sweep: dict, runs: list[dict], label: dict[str, str]) -> Answer:
    """The answer both forms give: the verdict in words first, then the verdict's numbers, the rankings (by
    Elo gap; base_model Elo, lowest first; fixed-reference drop, largest first) and every run's row."""
    for row in runs:
        row["varying_params"] = json.loads(row["varying_params"] or "{}")
    data = {
        "verdict_text": sweep_verdict_text(sweep, label),
        **sweep,
        "unstable_runs": sweep.get("unstable_runs") or [],
        "varying_params": sorted({key for row in runs for key in row["varying_params"]}),
        "rankings": rankings(runs, label),
        "sweep_runs": runs,
    }
    rows = [
        {**{k: v for k, v in row.items() if k != "varying_params"},
         **{f"config.{k}": v for k, v in row["varying_params"].items()}}
        for row in runs
    ]
    return Answer(data, rows)
