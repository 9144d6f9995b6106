"""Elo analysis of a run and a sweep comparison: analyze_elo.py and analyze_sweep.py done right
(source-data.md §3.3–3.4). The marts already hold the corrected numbers; this only gathers them."""

from __future__ import annotations

import json

import duckdb

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
        },
        "checkpoints": [_pick(a, CHECKPOINT_FIELDS) for a in agents if a["agent_kind"] != "baseline"],
        "baselines": [_pick(a, BASELINE_FIELDS) for a in agents if a["agent_kind"] == "baseline"],
    }
    return Answer(data, agents)


def sweep_comparison(con: duckdb.DuckDBPyConnection, sweep_name: str) -> Answer:
    """The sweep's runs side by side (run-wide aggregates, not last-step values) and its verdict."""
    params = {"sweep_name": sweep_name}
    sweep = fetch_one(con, "cli/sweep", params)
    runs = fetch(con, "cli/sweep_runs", params)
    for row in runs:
        row["varying_params"] = json.loads(row["varying_params"] or "{}")
    criteria_met = sweep["success_criteria_met"]
    data = {
        **sweep,
        "success_criteria_met": json.loads(criteria_met) if isinstance(criteria_met, str) else criteria_met,
        "varying_params": sorted({key for row in runs for key in row["varying_params"]}),
        "sweep_runs": runs,
    }
    rows = [
        {**{k: v for k, v in row.items() if k != "varying_params"},
         **{f"config.{k}": v for k, v in row["varying_params"].items()}}
        for row in runs
    ]
    return Answer(data, rows)
