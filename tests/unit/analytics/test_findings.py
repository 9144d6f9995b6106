"""`findings`: each rule on small hand-made series with known answers, then the demo's planted problems.

Hand-made runs start from a healthy synthetic series (`healthy_steps`) and plant one problem at known steps.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from diplo_pipeline.demo import plan as planted
from diplo_pipeline.lib.analytics import findings as F

STEPS = 100


def healthy_steps(n: int = STEPS, seed: int = 0) -> pl.DataFrame:
    """A run every rule should stay quiet on: ranges of a healthy run (source-data.md §3.6 and §5)."""
    rng = np.random.default_rng(seed)
    steps = np.arange(n)
    return pl.DataFrame(
        {
            "run_id": ["run00001"] * n,
            "step": steps,
            "loss": -0.01 + 0.02 * rng.standard_normal(n),
            "kl": 0.02 + 0.02 * steps / n + 0.002 * rng.standard_normal(n),
            "kl_max": 3.0 * np.exp(0.2 * rng.standard_normal(n)),
            "reward_mean": 2.0 + 2.6 * steps / n + 0.06 * rng.standard_normal(n),
            "grad_norm": 3.0 * np.exp(0.12 * rng.standard_normal(n)),
            "extraction_rate": 0.985 + 0.005 * rng.random(n),
            "orders_expected": np.full(n, 3000.0),
            "empty_responses": rng.integers(0, 7, n).astype(float),
            "partial_responses": rng.integers(2, 15, n).astype(float),
            "rollout_failed_count": np.zeros(n),
            "rollout_max_volume_reload_s": 2.0 + 3.0 * rng.random(n),
            "rollout_max_total_s": 80.0 + 35.0 * rng.random(n),
            "cache_hit_rate": 0.55 + 0.15 * rng.random(n),
            "used_cached_ref_logprobs": [False] * n,
        }
    )


def plant(run: pl.DataFrame, column: str, values: dict[int, float | None]) -> pl.DataFrame:
    """The run with `column` replaced at the given steps."""
    series = run[column].to_list()
    for step, value in values.items():
        series[step] = value
    return run.with_columns(pl.Series(column, series, dtype=run.schema[column]))


def spans(found: list[F.Finding]) -> list[tuple[int, int]]:
    return [(f.step_start, f.step_end) for f in found]


def test_a_healthy_series_gives_nothing():
    for seed in range(5):
        run = healthy_steps(seed=seed)
        assert [f for rule in F.STEP_RULES for f in rule(run)] == []
        assert F.invalid_ema_reference(run, uses_ema_reference=True) == []


def test_grad_norm_spike_is_found_at_exactly_its_step():
    found = F.grad_norm_spike(plant(healthy_steps(), "grad_norm", {74: 180.0}))
    assert spans(found) == [(74, 74)]
    assert (found[0].value, found[0].threshold, found[0].severity) == (180.0, 50.0, "warn")
    assert "180 at step 74" in found[0].message and "trailing median" in found[0].message


def test_grad_norm_spike_relative_to_its_trailing_median():
    run = plant(healthy_steps(), "grad_norm", {40: 20.0})  # under 50 but ~7x the median of ~3
    found = F.grad_norm_spike(run)
    assert spans(found) == [(40, 40)]
    assert found[0].threshold == pytest.approx(5 * np.median(run["grad_norm"].to_numpy()[30:40]))


def test_kl_high_merges_consecutive_steps_and_takes_the_worst_severity():
    run = plant(healthy_steps(), "kl", {60: 0.15, 61: 0.15, 62: 0.25, 63: 0.3, 64: 0.12, 80: 0.12, 81: 0.11})
    found = F.kl_high(run)
    assert spans(found) == [(60, 64), (80, 81)]
    assert [(f.severity, f.threshold, f.value) for f in found] == [("error", 0.2, 0.3), ("warn", 0.1, 0.12)]
    assert "above 0.2 on 2 of 5 steps" in found[0].message


def test_a_step_that_logged_nothing_does_not_break_an_episode_but_a_good_step_does():
    run = plant(healthy_steps(), "extraction_rate", {40: 0.9, 41: None, 42: 0.91, 50: 0.92, 52: 0.93})
    found = F.extraction_rate_low(run)
    assert spans(found) == [(40, 42), (50, 50), (52, 52)]
    assert (found[0].value, found[0].threshold) == (0.9, 0.95)


def test_kl_max_explosion():
    found = F.kl_max_explosion(plant(healthy_steps(), "kl_max", {s: 40.0 + s for s in range(72, 77)}))
    assert spans(found) == [(72, 76)]
    assert (found[0].value, found[0].severity) == (116.0, "error")


def test_loss_divergence_non_finite():
    found = F.loss_divergence(plant(healthy_steps(), "loss", {50: float("nan"), 51: float("inf")}))
    assert spans(found) == [(50, 51)]
    assert np.isnan(found[0].value) and found[0].severity == "error"


def test_loss_divergence_jump_that_does_not_come_back():
    jumped = plant(healthy_steps(), "loss", {s: 0.5 + 0.01 * (s % 3) for s in range(70, STEPS)})
    found = F.loss_divergence(jumped)
    assert spans(found) == [(70, STEPS - 1)]
    assert found[0].value == pytest.approx(0.52) and found[0].threshold < 0.2


def test_loss_jump_that_comes_back_is_not_divergence():
    assert F.loss_divergence(plant(healthy_steps(), "loss", {s: 0.6 for s in range(72, 77)})) == []


def test_reward_early_decline():
    found = F.reward_early_decline(plant(healthy_steps(), "reward_mean", {0: 2.0, 5: 1.2}))
    assert spans(found) == [(0, 5)]
    assert found[0].value == pytest.approx(0.4) and found[0].threshold == 0.3
    assert F.reward_early_decline(plant(healthy_steps(), "reward_mean", {0: 2.0, 5: 1.5})) == []  # 25 %
    assert F.reward_early_decline(plant(healthy_steps(), "reward_mean", {0: 2.0, 12: 1.0})) == []  # too late


def test_reward_plateau_over_the_last_third():
    flat = healthy_steps(90).with_columns(reward_mean=pl.lit(3.0) + 0.01 * (pl.col("step") % 2))
    found = F.reward_plateau(flat)
    assert spans(found) == [(60, 89)]
    assert found[0].severity == "info" and found[0].value <= 0
    assert F.reward_plateau(flat.head(59)) == []  # too short to judge
    assert F.reward_plateau(healthy_steps(90)) == []


def test_empty_responses_spike_counts_responses_as_orders_over_four():
    run = plant(healthy_steps(), "empty_responses", {30: 60.0, 31: 30.0})  # of ~750 responses: 8 %, 4 %
    found = F.empty_responses_spike(run)
    assert spans(found) == [(30, 30)]
    assert found[0].value == pytest.approx(60 / 750)


def test_rollout_failures_need_three_steps_in_ten():
    found = F.rollout_failures(plant(healthy_steps(), "rollout_failed_count", {20: 1, 24: 2, 29: 1}))
    assert spans(found) == [(20, 29)]
    assert (found[0].value, found[0].threshold) == (2.0, 0.0)
    assert "3 steps of 10 over steps 20–29" in found[0].message
    spread = plant(healthy_steps(), "rollout_failed_count", {20: 1, 25: 1, 30: 1, 60: 3})
    assert F.rollout_failures(spread) == []


def test_rollout_slow_merges_overlapping_windows():
    found = F.rollout_slow(
        plant(healthy_steps(), "rollout_max_total_s", {10: 130, 12: 200, 14: 125, 21: 150})
    )
    assert spans(found) == [(10, 21)]
    assert found[0].value == 200


def test_volume_reload_slow():
    found = F.volume_reload_slow(plant(healthy_steps(), "rollout_max_volume_reload_s", {33: 12.5}))
    assert spans(found) == [(33, 33)] and found[0].value == 12.5


def test_cache_hit_low_ignores_the_warm_up():
    run = plant(
        healthy_steps(), "cache_hit_rate", {**{s: 0.05 for s in range(10)}, **{s: 0.2 for s in range(40, 46)}}
    )
    assert spans(F.cache_hit_low(run)) == [(40, 45)]


def test_invalid_ema_reference_needs_config_flag_and_kl_max():
    run = plant(healthy_steps(), "kl_max", {s: 50.0 for s in range(72, 77)})
    run = plant(run, "used_cached_ref_logprobs", {s: True for s in range(70, 80)})
    found = F.invalid_ema_reference(run, uses_ema_reference=True)
    assert spans(found) == [(72, 76)] and found[0].severity == "error"
    assert F.invalid_ema_reference(run, uses_ema_reference=False) == []
    interrupted = plant(run, "used_cached_ref_logprobs", {74: False})
    assert spans(F.invalid_ema_reference(interrupted, uses_ema_reference=True)) == [(72, 73), (75, 76)]


def test_run_crashed():
    crashed = {"run_id": "x", "run_name": "r", "state": "crashed", "last_step": 57, "total_steps": 100}
    found = F.run_crashed(crashed)
    assert spans(found) == [(57, 57)] and found[0].severity == "error"
    assert "after step 57 of 100" in found[0].message
    assert F.run_crashed({**crashed, "state": "finished"}) == []


def agents(*rows: tuple) -> pl.DataFrame:
    columns = [
        "agent",
        "agent_kind",
        "checkpoint_step",
        "initial_elo",
        "peak_elo",
        "peak_step",
        "final_elo",
        "final_step",
        "trend",
        "initial_step",
    ]
    return pl.DataFrame([dict(zip(columns, row, strict=True)) for row in rows])


def test_checkpoint_regression_reads_the_newest_checkpoint():
    declining = agents(
        ("r/adapter_v0", "checkpoint", 0, 1000.0, 1040.0, 20, 960.0, 99, "declining", 1),
        ("r/adapter_v50", "checkpoint", 50, 1000.0, 1050.0, 70, 1025.0, 99, "declining", 51),
    )
    found = F.checkpoint_regression(declining)
    assert spans(found) == [(70, 99)] and found[0].value == -25.0 and "r/adapter_v50" in found[0].message
    fine = declining.with_columns(trend=pl.Series(["declining", "near_peak"]))
    assert F.checkpoint_regression(fine) == []


def test_baselines_rising():
    found = F.baselines_rising(
        agents(
            ("base_model", "baseline", None, 1000.0, 1030.0, 90, 1025.0, 99, None, 0),
            ("chaos_bot", "baseline", None, 900.0, 915.0, 40, 915.0, 99, None, 0),
        )
    )
    assert spans(found) == [(0, 99)] and found[0].value == 25.0 and "base_model" in found[0].message


def test_find_all_gives_the_warehouse_columns():
    run = plant(healthy_steps(), "grad_norm", {74: 180.0})
    runs = pl.DataFrame(
        [
            {
                "run_id": "run00001",
                "run_name": "grpo-1",
                "state": "crashed",
                "last_step": 99,
                "total_steps": 100,
                "use_ema_reference": False,
            }
        ]
    )
    summary = agents(("base_model", "baseline", None, 1000.0, 1000.0, 0, 1000.0, 99, None, 0)).with_columns(
        run_id=pl.lit("run00001")
    )
    table = F.find_all(run, runs, summary)
    assert table.columns == [
        "run_id",
        "run_name",
        "rule",
        "severity",
        "step_start",
        "step_end",
        "value",
        "threshold",
        "message",
        "hypothesis",
    ]
    assert sorted(table["rule"]) == ["grad_norm_spike", "run_crashed"]
    assert set(table["run_name"]) == {"grpo-1"} and all(table["hypothesis"].str.len_chars() > 50)
    assert F.find_all(run.clear(), runs.clear(), summary.clear()).columns == table.columns


# --- the demo's planted problems, after a real build --------------------------------------------------


@pytest.fixture(scope="module")
def demo_findings(demo_catalog) -> dict:
    plan = demo_catalog["plan"]
    relation = demo_catalog["con"].sql("select * from findings")
    found = [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
    return {key: [f for f in found if f["run_id"] == run.run_id] for key, run in plan.runs.items()}


def rule_spans(found: list[dict], rule: str) -> list[tuple[str, int, int]]:
    return [(f["severity"], f["step_start"], f["step_end"]) for f in found if f["rule"] == rule]


def test_demo_divergence_at_its_planted_steps(demo_findings):
    plan, found = planted.DIVERGENCE, demo_findings[planted.DIVERGENCE.run_key]
    spike = plan.grad_norm_spike_step
    assert rule_spans(found, "grad_norm_spike") == [("warn", spike, spike)]
    assert [f["value"] for f in found if f["rule"] == "grad_norm_spike"] == [plan.grad_norm_spike]
    assert rule_spans(found, "kl_high") == [("error", *plan.kl_high_steps)]
    assert rule_spans(found, "kl_max_explosion") == [("error", *plan.kl_max_steps)]
    assert [f["value"] for f in found if f["rule"] == "kl_max_explosion"] == [plan.kl_max_peak]


def test_demo_crash_at_its_last_step(demo_findings):
    last = planted.CRASH.last_step
    assert rule_spans(demo_findings[planted.CRASH.run_key], "run_crashed") == [("error", last, last)]


def test_demo_extraction_drop_within_its_steps(demo_findings):
    episodes = rule_spans(demo_findings[planted.EXTRACTION_DROP.run_key], "extraction_rate_low")
    first, last = planted.EXTRACTION_DROP.dip_steps
    assert episodes and all(first <= start <= end <= last for _, start, end in episodes)


def test_demo_healthy_run_has_no_warn_or_error(demo_findings):
    assert [f for f in demo_findings["healthy"] if f["severity"] != "info"] == []


def test_demo_error_findings_fail_the_warning_check(demo_catalog):
    report = demo_catalog["report"]
    errors = demo_catalog["con"].sql("select count(*) from findings where severity = 'error'").fetchone()[0]
    assert errors == 3  # kl_high and kl_max_explosion of the diverging run, the crash
    assert "marts/findings:no_error_findings" in report.checks_failed
    assert report.check_metadata["marts/findings:no_error_findings"]["error_findings"] == errors
