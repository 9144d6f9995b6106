"""Findings: what an experienced researcher would flag in a run (WAREHOUSE.md `findings`).

One function per rule of WAREHOUSE.md's table, by what it reads:

- `training_rules`: gradients, KL, loss and reward (one run's `run_steps` rows, sorted by step);
- `rollout_rules`: extraction, empty responses, failed, slow and cache-missing rollouts (the same rows);
- `run_rules`: the run's `runs` row (a crash) and its `elo_agent_summary` rows (the league);
- `baseline_rules`: the run's `run_baselines` row (a significant change for the worse against its baseline).

Each returns `Finding`s (`finding`); `episodes` says how offending steps group into one finding. Every
threshold, target and window comes from `dbt_like_sql/thresholds.yml` (`rule_limits`), and the hypothesis
texts quote them (`hypotheses`). `find_all` runs every rule over every run and returns the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

import duckdb
import polars as pl

from diplo_pipeline.lib.analytics.findings.baseline_rules import regression_vs_baseline
from diplo_pipeline.lib.analytics.findings.finding import ERROR, INFO, WARN, Finding
from diplo_pipeline.lib.analytics.findings.hypotheses import hypotheses
from diplo_pipeline.lib.analytics.findings.rollout_rules import (
    cache_hit_low,
    empty_response_share,
    empty_responses_spike,
    extraction_rate_low,
    rollout_failures,
    rollout_slow,
    volume_reload_slow,
)
from diplo_pipeline.lib.analytics.findings.rule_limits import RuleLimits
from diplo_pipeline.lib.analytics.findings.run_rules import baselines_rising, checkpoint_regression, run_crashed
from diplo_pipeline.lib.analytics.findings.training_rules import (
    grad_norm_spike,
    invalid_ema_reference,
    kl_high,
    kl_max_explosion,
    loss_divergence,
    reward_early_decline,
    reward_plateau,
)
from diplo_pipeline.lib.warehouse.sql_runner import PYTHON_MARTS

__all__ = [
    "ERROR", "FINDINGS_SCHEMA", "INFO", "INPUTS", "PREVIEW_COLUMNS", "STEP_RULES", "WARN", "Finding", "RuleLimits",
    "baselines_rising", "cache_hit_low", "checkpoint_regression", "empty_response_share", "empty_responses_spike",
    "extraction_rate_low", "find_all", "findings_from", "grad_norm_spike", "hypotheses", "invalid_ema_reference",
    "kl_high", "kl_max_explosion", "loss_divergence", "ordered", "preview_rows", "regression_vs_baseline",
    "reward_early_decline", "reward_plateau", "rollout_failures", "rollout_slow", "run_crashed", "run_findings",
    "volume_reload_slow",
]

FINDINGS_SCHEMA = {
    "run_id": pl.String,
    "run_name": pl.String,
    "rule": pl.String,
    "severity": pl.String,
    "step_start": pl.Int64,
    "step_end": pl.Int64,
    "value": pl.Float64,
    "threshold": pl.Float64,
    "message": pl.String,
    "hypothesis": pl.String,
}

INPUTS = PYTHON_MARTS["findings"]  # dbt_like_sql/intermediate: run steps, runs, agents; marts: run_baselines
PREVIEW_COLUMNS = ["run_name", "rule", "severity", "step_start", "step_end", "value", "message"]

StepRule = Callable[[pl.DataFrame, RuleLimits | None], list[Finding]]
STEP_RULES: tuple[StepRule, ...] = (
    grad_norm_spike,
    kl_high,
    kl_max_explosion,
    loss_divergence,
    reward_early_decline,
    reward_plateau,
    extraction_rate_low,
    empty_responses_spike,
    rollout_failures,
    volume_reload_slow,
    rollout_slow,
    cache_hit_low,
)


def run_findings(
    run: dict, steps: pl.DataFrame, agents: pl.DataFrame, limits: RuleLimits, baseline: dict | None = None
) -> list[Finding]:
    """Every rule over one run: its `runs` row, its run_steps rows, its elo_agent_summary rows and its
    run_baselines row (None: the run has no baseline)."""
    steps = steps.sort("step")
    found = [finding for rule in STEP_RULES for finding in rule(steps, limits)]
    found += invalid_ema_reference(steps, bool(run.get("use_ema_reference")), limits)
    found += run_crashed(run) + checkpoint_regression(agents, limits) + baselines_rising(agents, limits)
    if baseline is not None:
        found += regression_vs_baseline(baseline, limits)
    return found


def find_all(
    run_steps: pl.DataFrame,
    runs: pl.DataFrame,
    agents: pl.DataFrame,
    limits: RuleLimits | None = None,
    baselines: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The `findings` table, judged by `limits` (thresholds.yml's unless given).

    run_steps: the `run_steps` table, plus `used_cached_ref_logprobs` (bool) where known.
    runs: run_id, run_name, state, last_step, total_steps, use_ema_reference (bool).
    agents: `elo_agent_summary`, plus `initial_step` (the step of each agent's first rating).
    baselines: `run_baselines` (None or empty: no regression_vs_baseline findings).
    """
    limits = limits or RuleLimits.load()
    hypothesis = hypotheses(limits)
    steps_by_run = run_steps.partition_by("run_id", as_dict=True)
    agents_by_run = agents.partition_by("run_id", as_dict=True)
    baseline_by_run = {row["run_id"]: row for row in (baselines.iter_rows(named=True) if baselines is not None else ())}
    rows = []
    for run in runs.sort("run_name", "run_id").iter_rows(named=True):  # names may repeat: ids break ties
        steps = steps_by_run.get((run["run_id"],), run_steps.clear())
        run_agents = agents_by_run.get((run["run_id"],), agents.clear())
        for finding in run_findings(run, steps, run_agents, limits, baseline_by_run.get(run["run_id"])):
            identity = {"run_id": run["run_id"], "run_name": run["run_name"]}
            rows.append({**identity, **asdict(finding), "hypothesis": hypothesis[finding.rule]})
    return ordered(pl.DataFrame(rows, schema=FINDINGS_SCHEMA))


def ordered(table: pl.DataFrame) -> pl.DataFrame:
    """The mart's row order. maintain_order: rows that tie on every key keep the order the rules made them in
    (and the rows of runs computed apart keep theirs: lib/analytics/findings/run_cache.py), so each build
    writes the same bytes."""
    return table.sort("run_name", "run_id", "step_start", "rule", nulls_last=True, maintain_order=True)


def findings_from(con: duckdb.DuckDBPyConnection, limits: RuleLimits | None = None) -> pl.DataFrame:
    """The `findings` table of the warehouse on `con` (a connection with the INPUTS models defined)."""
    run_steps, runs, agents, baselines = (con.sql(f"select * from {name}").pl() for name in INPUTS)
    return find_all(run_steps, runs, agents, limits, baselines)


def preview_rows(table: pl.DataFrame, severities: tuple[str, ...]) -> list[dict]:
    """The findings of the given severities, in the columns the Dagster UI shows."""
    return table.filter(pl.col("severity").is_in(severities)).select(PREVIEW_COLUMNS).to_dicts()
