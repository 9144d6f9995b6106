"""Run rules: a run's `runs` row (did it crash) and its league ratings (`elo_agent_summary` rows: is the
newest checkpoint losing rating, are fixed baselines gaining it)."""

from __future__ import annotations

import polars as pl

from diplo_pipeline.lib.analytics.findings.finding import ERROR, WARN, Finding, num
from diplo_pipeline.lib.analytics.findings.rule_limits import RuleLimits


def run_crashed(run: dict) -> list[Finding]:
    """State `crashed`. `value` is the last step reached; no threshold. An error: the run's results stop
    where it died."""
    if run["state"] != "crashed":
        return []
    last = run["last_step"]
    configured = f" of {run['total_steps']} configured" if run.get("total_steps") is not None else ""
    reached = f"after step {last}{configured}" if last is not None else "before logging any step"
    message = f"the run crashed {reached} (no exit record)"
    value = float(last) if last is not None else None
    return [Finding("run_crashed", ERROR, last, last, value, None, message)]


def checkpoint_regression(agents: pl.DataFrame, limits: RuleLimits | None = None) -> list[Finding]:
    """The run's newest checkpoint (highest checkpoint_step) has trend `declining` (elo_agent_summary: final
    − peak Elo at or below `checkpoint_decline`). `value` is final − peak Elo, `threshold` that limit; the
    episode runs from the peak to the final rating."""
    limits = limits or RuleLimits.load()
    checkpoints = agents.filter(pl.col("agent_kind") == "checkpoint").sort("checkpoint_step")
    if checkpoints.is_empty():
        return []
    newest = checkpoints.row(-1, named=True)
    if newest["trend"] != "declining":
        return []
    drop = newest["final_elo"] - newest["peak_elo"]
    message = (
        f"the newest checkpoint {newest['agent']} fell from its peak {num(newest['peak_elo'])} at step "
        f"{newest['peak_step']} to {num(newest['final_elo'])} at step {newest['final_step']} "
        f"({drop:+.1f} Elo; declining at {limits.checkpoint_decline:.0f} or worse)"
    )
    start, end = newest["peak_step"], newest["final_step"]
    return [Finding("checkpoint_regression", WARN, start, end, drop, limits.checkpoint_decline, message)]


def baselines_rising(agents: pl.DataFrame, limits: RuleLimits | None = None) -> list[Finding]:
    """A baseline whose final rating is more than `baseline_rise_max` above its first observed one (one
    finding per baseline). `value` is final − initial Elo; the episode runs from its first rating
    (`initial_step`) to its last."""
    limits = limits or RuleLimits.load()
    rise_max = limits.baseline_rise_max
    rising = agents.filter(
        (pl.col("agent_kind") == "baseline") & (pl.col("final_elo") - pl.col("initial_elo") > rise_max)
    ).sort("agent")
    findings = []
    for agent in rising.iter_rows(named=True):
        change = agent["final_elo"] - agent["initial_elo"]
        message = (
            f"baseline {agent['agent']} rose from {num(agent['initial_elo'])} to {num(agent['final_elo'])} "
            f"by step {agent['final_step']} ({change:+.1f} Elo; threshold +{rise_max:.0f})"
        )
        start, end = agent.get("initial_step"), agent["final_step"]
        findings.append(Finding("baselines_rising", WARN, start, end, change, rise_max, message))
    return findings
