"""The limits the findings rules judge by, read from `dbt_like_sql/thresholds.yml` (its `limits:` section).

One typed view of the file instead of a number in each rule: the same value decides whether a rule fires,
is the finding's `threshold` and is quoted in its message and hypothesis, so editing thresholds.yml changes
all three. `find_all` loads them once and hands them to every rule; a rule called on its own loads them too.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from diplo_pipeline.lib.warehouse.sql_project import SQL_ROOT
from diplo_pipeline.lib.warehouse.thresholds import limit


@dataclass(frozen=True)
class RuleLimits:
    """Each field is the limit of the same name in thresholds.yml (its description says what it means)."""

    # gradients and KL
    grad_norm_max: float
    grad_norm_spike_factor: float
    trailing_window_steps: int
    kl_warn: float
    kl_error: float
    kl_max_limit: float
    # loss and reward
    loss_robust_deviations: float
    loss_baseline_window_steps: int
    early_steps: int
    early_decline_max: float
    plateau_min_steps: int
    reward_smoothing_steps: int
    # what the rollouts produced, and how fast
    extraction_rate_min: float
    empty_share_max: float
    burst_window_steps: int
    burst_min_steps: int
    volume_reload_max_s: float
    rollout_total_max_s: float
    cache_hit_target: float
    cache_hit_alarm: float
    # league
    checkpoint_decline: float
    baseline_rise_max: float
    # against the run's baseline (run_baselines judged the significance with the same number)
    significance_z: float

    @classmethod
    def load(cls, root: Path = SQL_ROOT) -> RuleLimits:
        """The limits of `root/thresholds.yml`; a missing one is a KeyError naming the file to add it to."""
        values = {}
        for field in fields(cls):
            value = limit(field.name, root)
            values[field.name] = int(value) if field.type == "int" else value  # step counts are whole steps
        return cls(**values)
