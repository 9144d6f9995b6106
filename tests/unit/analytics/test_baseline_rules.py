"""regression_vs_baseline over run_baselines rows: a significant change for the worse fires, a significant
improvement, an insignificant drop and an unjudged one do not (the planted build: tests/integration/
test_baselines.py)."""

from __future__ import annotations

from diplo_pipeline.lib.analytics import findings as F

HEALTHY = {
    "run_id": "run00002", "baseline_run_name": "grpo-base", "selection": "tagged_baseline", "target": "elo_gap_50",
    "last_step": 99, "final_elo_gap": 80.0, "baseline_final_elo_gap": 60.0, "final_elo_gap_change": 20.0,
    "final_elo_gap_change_ci_low": 5.0, "final_elo_gap_change_ci_high": 35.0, "final_elo_gap_significant": True,
    "final_reward": 3.0, "baseline_final_reward": 3.1, "final_reward_change": -0.1,
    "final_reward_change_ci_low": -0.3, "final_reward_change_ci_high": 0.1, "final_reward_significant": False,
    "kl_max": 4.0, "baseline_kl_max": 3.0, "kl_max_change": 1.0, "kl_max_significant": False,
    "trajectories_per_s": 8.0, "baseline_trajectories_per_s": 8.0, "trajectories_per_s_change": 0.0,
    "trajectories_per_s_change_ci_low": None, "trajectories_per_s_change_ci_high": None,
    "trajectories_per_s_significant": None,
    "steps_to_target": 40, "baseline_steps_to_target": 60, "steps_to_target_change": -20,
    "steps_to_target_significant": False,
}


def test_a_better_or_insignificant_comparison_finds_nothing():
    assert F.regression_vs_baseline(HEALTHY) == []


def test_each_significant_change_for_the_worse_is_one_warning_with_both_values():
    worse = HEALTHY | {
        "final_elo_gap": 20.0, "final_elo_gap_change": -40.0, "final_elo_gap_change_ci_low": -55.0,
        "final_elo_gap_change_ci_high": -25.0,
        "kl_max": 40.0, "kl_max_change": 37.0, "kl_max_significant": True,
        "steps_to_target": None, "steps_to_target_change": None, "steps_to_target_significant": True,
    }
    found = F.regression_vs_baseline(worse)
    assert [(f.rule, f.severity, f.value, f.threshold) for f in found] == [
        ("regression_vs_baseline", "warn", 20.0, 60.0),
        ("regression_vs_baseline", "warn", 40.0, 3.0),
        ("regression_vs_baseline", "warn", None, 60.0),
    ]
    assert found[0].message == (
        "final Elo gap 20 against 60 for baseline grpo-base (tagged baseline) (change -40, 95 % band "
        "[-55, -25]: significant at z = 1.96)"
    )
    assert "above kl_max_limit 10 where the baseline stayed below it" in found[1].message
    assert found[2].message == (
        "baseline grpo-base (tagged baseline) reached elo_gap_50 at step 60; this run never did, though it ran "
        "to step 99"
    )


def test_find_all_adds_the_rule_with_its_hypothesis_only_for_runs_with_a_baseline():
    import polars as pl

    from tests.unit.analytics.test_findings import healthy_steps
    from tests.unit.analytics.test_rule_limits import AGENTS, RUNS

    steps = healthy_steps()
    worse = HEALTHY | {"run_id": "run00001", "final_reward_change": -0.5, "final_reward_significant": True}
    table = F.find_all(steps, RUNS, AGENTS, baselines=pl.DataFrame([worse]))
    assert table.filter(pl.col("rule") == "regression_vs_baseline").height == 1
    assert "diplo compare RUN --baseline" in table["hypothesis"][0]
    assert F.find_all(steps, RUNS, AGENTS).height == 0  # the same healthy run without a baseline
