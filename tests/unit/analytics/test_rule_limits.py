"""The findings rules judge by `dbt_like_sql/thresholds.yml`: a copy of it with one limit changed changes what
fires, the finding's threshold and the texts that quote the limit."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import pytest
import yaml

from diplo_pipeline.lib.analytics import findings as F
from diplo_pipeline.lib.warehouse.sql_project import SQL_ROOT
from tests.unit.analytics.test_findings import healthy_steps, plant

RUNS = pl.DataFrame(
    [{"run_id": "run00001", "run_name": "grpo-1", "state": "finished", "last_step": 99, "total_steps": 100,
      "use_ema_reference": False}]
)
AGENTS = pl.DataFrame(
    schema={"run_id": pl.String, "agent": pl.String, "agent_kind": pl.String, "checkpoint_step": pl.Int64,
            "initial_elo": pl.Float64, "final_elo": pl.Float64, "final_step": pl.Int64}
)


def thresholds_with(tmp_path: Path, **changed: float | None) -> Path:
    """A project root whose thresholds.yml is the real one with the given limits changed (None: removed).
    A new folder each time: the loader reads each root's file once."""
    spec = yaml.safe_load((SQL_ROOT / "thresholds.yml").read_text())
    for name, value in changed.items():
        assert name in spec["limits"], name  # change a limit the project has, never invent one
        if value is None:
            del spec["limits"][name]
        else:
            spec["limits"][name]["value"] = value
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    (root / "thresholds.yml").write_text(yaml.safe_dump(spec))
    return root


def found(run: pl.DataFrame, limits: F.RuleLimits | None = None) -> list[dict]:
    return F.find_all(run, RUNS, AGENTS, limits).to_dicts()


def test_a_lower_extraction_floor_keeps_only_the_deeper_drop_and_says_so(tmp_path):
    run = plant(healthy_steps(), "extraction_rate", {40: 0.93, 60: 0.88})
    default = found(run)
    assert [(f["rule"], f["step_start"], f["threshold"]) for f in default] == [
        ("extraction_rate_low", 40, 0.95), ("extraction_rate_low", 60, 0.95)
    ]
    assert "target above 95 %" in default[0]["hypothesis"]

    lowered = found(run, F.RuleLimits.load(thresholds_with(tmp_path, extraction_rate_min=0.9)))
    assert [(f["rule"], f["step_start"], f["threshold"]) for f in lowered] == [("extraction_rate_low", 60, 0.9)]
    assert "threshold 0.9: the repo's target is more than 90 % of expected orders" in lowered[0]["message"]
    assert "target above 90 %" in lowered[0]["hypothesis"]


def test_the_burst_count_comes_from_the_limits(tmp_path):
    run = plant(healthy_steps(), "rollout_failed_count", {20: 1, 25: 1})  # 2 steps of 10: no burst of 3
    assert found(run) == []

    loosened = found(run, F.RuleLimits.load(thresholds_with(tmp_path, burst_min_steps=2)))
    assert [(f["rule"], f["step_start"], f["step_end"]) for f in loosened] == [("rollout_failures", 20, 25)]
    assert "threshold 2 steps of any 10" in loosened[0]["message"]


def test_a_shorter_trailing_window_changes_the_grad_norm_baseline(tmp_path):
    # Steps 30-36 run at 6, steps 37-39 drop to 2: step 40 (21) is over 5x the median of the 3 steps before
    # it (2), but not of the 10 before it (6, the default window).
    history = {s: 6.0 for s in range(30, 37)} | {s: 2.0 for s in range(37, 40)}
    run = plant(healthy_steps(), "grad_norm", history | {40: 21.0})
    assert found(run) == []

    short = found(run, F.RuleLimits.load(thresholds_with(tmp_path, trailing_window_steps=3)))
    assert [(f["rule"], f["step_start"], f["threshold"]) for f in short] == [("grad_norm_spike", 40, 10.0)]


def test_the_cache_target_is_quoted_but_the_alarm_decides(tmp_path):
    run = plant(healthy_steps(), "cache_hit_rate", {s: 0.4 for s in range(40, 46)})  # under 0.5, over 0.30
    assert found(run) == []
    raised_target = F.RuleLimits.load(thresholds_with(tmp_path, cache_hit_target=0.6))
    assert found(run, raised_target) == []

    raised_alarm = F.RuleLimits.load(thresholds_with(tmp_path, cache_hit_alarm=0.45, cache_hit_target=0.6))
    alarms = found(run, raised_alarm)
    assert [(f["rule"], f["step_start"], f["step_end"], f["threshold"]) for f in alarms] == [
        ("cache_hit_low", 40, 45, 0.45)
    ]
    assert "threshold 45% after the first 10 steps; target above 60 %" in alarms[0]["message"]
    assert "target above 60 % after warm-up" in alarms[0]["hypothesis"]


def test_a_limit_missing_from_thresholds_yml_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(KeyError, match=r"no limit 'kl_error' in .*thresholds\.yml"):
        F.RuleLimits.load(thresholds_with(tmp_path, kl_error=None))
