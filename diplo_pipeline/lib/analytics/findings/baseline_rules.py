"""Baseline rules: a run against its baseline (a `run_baselines` row, WAREHOUSE.md), not its own steps.

`run_baselines` has already judged each change's significance (dbt_like_sql/marts/run_baselines.sql, with
thresholds.yml's `significance_z` and `kl_max_limit`); this rule reports the significant changes for the
worse. Cross-run by nature: a new baseline run can change another run's finding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from diplo_pipeline.lib.analytics.findings.finding import WARN, Finding, num
from diplo_pipeline.lib.analytics.findings.rule_limits import RuleLimits


@dataclass(frozen=True)
class Compared:
    """One compared value of run_baselines: its column, what it is called, and when a change is worse."""

    column: str
    label: str
    worse: Callable[[dict], bool]


def _lower(column: str) -> Callable[[dict], bool]:
    return lambda row: row[f"{column}_change"] is not None and row[f"{column}_change"] < 0


COMPARED = (
    Compared("final_elo_gap", "final Elo gap", _lower("final_elo_gap")),
    Compared("final_reward", "final reward", _lower("final_reward")),
    # Significant only when exactly one side is above kl_max_limit: worse when it is this run.
    Compared("kl_max", "KL max", lambda row: row["kl_max"] is not None and row["baseline_kl_max"] is not None
             and row["kl_max"] > row["baseline_kl_max"]),
    Compared("trajectories_per_s", "trajectories per second", _lower("trajectories_per_s")),
    # Significant only when one side reached the target and the other ran as far without: worse when the
    # baseline is the one that reached it.
    Compared("steps_to_target", "steps to target", lambda row: row["steps_to_target"] is None),
)


def _band(row: dict, column: str) -> str:
    low, high = row.get(f"{column}_change_ci_low"), row.get(f"{column}_change_ci_high")
    return f", 95 % band [{num(low)}, {num(high)}]" if low is not None and high is not None else ""


def _message(row: dict, compared: Compared, limits: RuleLimits) -> str:
    baseline = f"baseline {row['baseline_run_name']} ({row['selection'].replace('_', ' ')})"
    column = compared.column
    if column == "steps_to_target":
        return (
            f"{baseline} reached {row['target']} at step {row['baseline_steps_to_target']}; this run never "
            f"did, though it ran to step {row['last_step']}"
        )
    if column == "kl_max":
        return (
            f"KL max {num(row['kl_max'])} against {num(row['baseline_kl_max'])} for {baseline}: above "
            f"kl_max_limit {num(limits.kl_max_limit)} where the baseline stayed below it"
        )
    change = row[f"{column}_change"]
    return (
        f"{compared.label} {num(row[column])} against {num(row[f'baseline_{column}'])} for {baseline} "
        f"(change {change:+.3g}{_band(row, column)}: significant at z = {limits.significance_z:g})"
    )


def regression_vs_baseline(row: dict, limits: RuleLimits | None = None) -> list[Finding]:
    """One `warn` finding per compared value of a `run_baselines` row (plus `baseline_run_name` and the
    run's `last_step`) whose change is significant and for the worse: lower final Elo gap, reward or
    trajectories per second, a KL max above the limit the baseline kept under, a target the baseline reached
    and the run did not. `value` is the run's value, `threshold` the baseline's (for steps to target: NULL
    and the baseline's step); no step range, the comparison is of whole runs."""
    limits = limits or RuleLimits.load()
    findings = []
    for compared in COMPARED:
        if row.get(f"{compared.column}_significant") is not True or not compared.worse(row):
            continue
        value, threshold = row[compared.column], row[f"baseline_{compared.column}"]
        findings.append(Finding(
            "regression_vs_baseline", WARN, None, None,
            None if value is None else float(value), None if threshold is None else float(threshold),
            _message(row, compared, limits),
        ))
    return findings
