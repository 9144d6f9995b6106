"""The planted behaviours recomputed from the WandB rows: the healthy run against every `findings` rule its
rows could trigger (none may), the sweep's ranking by final Elo gap, and the diverging run's episode.

Each function appends what the data misses to `problems`; the fact functions return what they computed.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict

from diplo_pipeline.demo.league import final_elo_gap, registration_steps, safe_name
from diplo_pipeline.demo.planted_episodes import DIVERGENCE
from diplo_pipeline.demo.planted_experiments import SWEEP
from diplo_pipeline.demo.run_catalogue import DemoPlan
from diplo_pipeline.demo.run_shapes import HEALTHY_LEAGUE
from diplo_pipeline.demo.simulated_system import BASELINE_SEED_ELO
from diplo_pipeline.demo.trainer_rows import RunRows
from diplo_pipeline.lib.warehouse.thresholds import limit

ORDERS_PER_RESPONSE = 4  # WandB logs no response count; orders_expected / 4 estimates it


def healthy_run_facts(plan: DemoPlan, run_rows: RunRows, problems: list[str]) -> dict:
    """The `findings` rules of WAREHOUSE.md that the healthy run's rows could trigger: none may."""
    run = plan.run("healthy")
    steps = [run_rows.by_step[s] for s in sorted(run_rows.by_step)]

    def column(key: str) -> list[float]:
        return [row[key] for row in steps]

    kl, kl_max, grad = column("benchmark/kl"), column("kl/max"), column("benchmark/grad_norm")
    reward, loss = column("benchmark/reward_mean"), column("benchmark/loss")
    # The rules' own limits come from thresholds.yml; the bounds written here are the demo's margins, which
    # keep the healthy run well inside those limits.
    spike_factor, window = limit("grad_norm_spike_factor"), int(limit("trailing_window_steps"))
    early, early_decline = int(limit("early_steps")), limit("early_decline_max")
    checks = {
        "kl in [0.01, 0.05]": all(0.01 <= v <= 0.05 for v in kl),
        "kl/max < 7": max(kl_max) < 7,
        "grad_norm in [1, 8]": all(1 <= v <= 8 for v in grad),
        f"grad_norm never > {spike_factor:g}x trailing median": all(
            grad[i] <= spike_factor * statistics.median(grad[max(0, i - window) : i]) for i in range(1, len(grad))
        ),
        "extraction/rate >= 0.97": min(column("extraction/rate")) >= 0.97,
        "empty responses < 2 %": all(
            row["extraction/empty_responses"] < 0.02 * row["extraction/orders_expected"] / ORDERS_PER_RESPONSE
            for row in steps
        ),
        "no failed rollouts": max(column("rollout/failed_count")) == 0,
        "volume reload in [2, 5]": all(2 <= v <= 5 for v in column("rollout/max_volume_reload_s")),
        "rollout max total in [80, 115]": all(80 <= v <= 115 for v in column("rollout/max_total_s")),
        "loss finite": all(math.isfinite(v) for v in loss),
        "no early reward decline": min(reward[:early]) > (1 - early_decline) * reward[0],
        "reward improves over the last third": _smoothed(reward)[-1]
        > _smoothed(reward)[2 * len(reward) // 3],
    }
    trends = _checkpoint_trends(run.name, steps)
    newest = f"{run.name}/adapter_v{registration_steps(run.steps - 1)[-1]}"
    checks["latest checkpoint not declining"] = trends[newest] != "declining"
    checks["more than half of checkpoints declining"] = (
        sum(t == "declining" for t in trends.values()) > len(trends) / 2
    )
    baselines = _baseline_changes(steps)
    rise_max = limit("baseline_rise_max")
    checks[f"no baseline rises more than {rise_max:g}"] = max(baselines.values()) <= rise_max
    gap = final_elo_gap(run.name, steps)["elo_gap"]
    checks["final Elo gap near plan"] = abs(gap - HEALTHY_LEAGUE.final_gap) <= 10
    problems.extend(f"healthy run: {name}" for name, ok in checks.items() if not ok)
    return {
        "checks_passed": sorted(name for name, ok in checks.items() if ok),
        "checkpoint_trends": trends,
        "baseline_changes": baselines,
        "final_elo_gap": gap,
    }


def _smoothed(values: list[float], window: int = 10) -> list[float]:
    return [statistics.fmean(values[max(0, i - window + 1) : i + 1]) for i in range(len(values))]


def _elo_series(steps: list[dict]) -> dict[str, list[float]]:
    series: dict[str, list[float]] = defaultdict(list)
    for row in steps:
        for key, value in row.items():
            if key.startswith("elo/"):
                series[key.removeprefix("elo/")].append(value)
    return series


def _checkpoint_trends(run_name: str, steps: list[dict]) -> dict[str, str]:
    prefix = safe_name(f"{run_name}/adapter_v")
    trends = {}
    for agent, values in _elo_series(steps).items():
        if agent.startswith(prefix):
            drop = values[-1] - max(values)
            if drop > limit("checkpoint_slight_decline"):
                trend = "near_peak"
            else:
                trend = "slight_decline" if drop > limit("checkpoint_decline") else "declining"
            trends[f"{run_name}/adapter_v{agent.removeprefix(prefix)}"] = trend
    return trends


def _baseline_changes(steps: list[dict]) -> dict[str, float]:
    series = _elo_series(steps)
    return {agent: series[agent][-1] - series[agent][0] for agent in BASELINE_SEED_ELO if agent in series}


def sweep_facts(plan: DemoPlan, rows: dict[str, RunRows], problems: list[str]) -> dict:
    gaps = {}
    for letter in SWEEP.tag_suffixes:
        run = plan.run(f"sweep_{letter}")
        by_step = rows[run.key].by_step
        gaps[letter] = final_elo_gap(run.name, [by_step[s] for s in sorted(by_step)])["elo_gap"]
    ranking = sorted(gaps, key=gaps.__getitem__, reverse=True)
    margin = gaps[ranking[0]] - gaps[ranking[1]]
    clear_margin = limit("sweep_clear_margin")
    if ranking[:2] != [SWEEP.expected_winner, SWEEP.expected_runner_up] or margin <= clear_margin:
        problems.append(
            f"sweep ranking {ranking} with gaps {gaps}: planted {SWEEP.expected_ranking}, margin > {clear_margin:g}"
        )
    return {"final_elo_gaps": gaps, "ranking": ranking, "margin": margin}


def check_divergence(run_rows: RunRows, problems: list[str]) -> None:
    plan = DIVERGENCE
    rows = run_rows.by_step
    if rows[plan.grad_norm_spike_step]["benchmark/grad_norm"] != plan.grad_norm_spike:
        problems.append("diverging run: the grad-norm spike is missing")
    kl_error, kl_max_limit = limit("kl_error"), limit("kl_max_limit")
    if any(rows[s]["benchmark/kl"] <= kl_error for s in range(plan.kl_high_steps[0], plan.kl_high_steps[1] + 1)):
        problems.append(f"diverging run: kl is not above {kl_error:g} over the planted steps")
    if any(rows[s]["kl/max"] <= kl_max_limit for s in range(plan.kl_max_steps[0], plan.kl_max_steps[1] + 1)):
        problems.append(f"diverging run: kl/max is not above {kl_max_limit:g} over the planted steps")
