"""Rollout rules: what the rollouts produced (extracted orders, empty responses, the prefix cache) and how
reliably and fast they ran, over one run's `run_steps` rows (sorted by step). All warn.

Each takes the run's steps and the limits (loaded from thresholds.yml when not given) and returns its
findings.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from diplo_pipeline.lib.analytics.findings.episodes import burst_episodes, episodes, nothing_observed, observed
from diplo_pipeline.lib.analytics.findings.finding import WARN, Finding, num, percent, span, worst_at
from diplo_pipeline.lib.analytics.findings.rule_limits import RuleLimits

# WandB logs no response count. A response answers for one power in one phase; powers hold about four units
# on average, so orders_expected / 4 estimates the responses (the demo generator's self-check uses the same).
ORDERS_PER_RESPONSE = 4.0


def extraction_rate_low(run: pl.DataFrame, limits: RuleLimits | None = None) -> list[Finding]:
    """extraction_rate below `extraction_rate_min` (the repo's target for the share of expected orders
    extracted)."""
    limits = limits or RuleLimits.load()
    floor = limits.extraction_rate_min
    steps, rate = observed(run, "extraction_rate")
    findings = []
    for episode in episodes(steps, rate, rate < floor):
        worst, at = episode.worst(highest=False)
        message = (
            f"extraction_rate fell to {num(worst)} {worst_at(at, episode)} "
            f"(threshold {floor}: the repo's target is more than {percent(floor)} of expected orders)"
        )
        findings.append(Finding("extraction_rate_low", WARN, episode.start, episode.end, worst, floor, message))
    return findings


def empty_response_share(run: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(steps, empty responses / responses). Responses are estimated as orders_expected / 4, and never fewer
    than the empty and partial responses the step counted."""
    if not {"orders_expected", "empty_responses"} <= set(run.columns):
        return nothing_observed()
    partial = pl.col("partial_responses") if "partial_responses" in run.columns else pl.lit(0.0)
    responses = pl.max_horizontal(
        pl.col("orders_expected") / ORDERS_PER_RESPONSE, pl.col("empty_responses") + partial.fill_null(0)
    )
    share = run.select("step", (pl.col("empty_responses") / responses).alias("share")).drop_nulls()
    share = share.filter(pl.col("share").is_finite())
    return share["step"].to_numpy(), share["share"].to_numpy()


def empty_responses_spike(run: pl.DataFrame, limits: RuleLimits | None = None) -> list[Finding]:
    """Empty responses above `empty_share_max` of a step's responses (`empty_response_share` says how they
    are counted)."""
    limits = limits or RuleLimits.load()
    ceiling = limits.empty_share_max
    steps, share = empty_response_share(run)
    findings = []
    for episode in episodes(steps, share, share > ceiling):
        worst, at = episode.worst()
        message = (
            f"empty responses reached {worst:.1%} of responses {worst_at(at, episode)} (threshold "
            f"{ceiling:.0%}; responses estimated as orders_expected / {ORDERS_PER_RESPONSE:g})"
        )
        findings.append(Finding("empty_responses_spike", WARN, episode.start, episode.end, worst, ceiling, message))
    return findings


def _bursts(limits: RuleLimits) -> str:
    return f"threshold {limits.burst_min_steps} steps of any {limits.burst_window_steps}"


def rollout_failures(run: pl.DataFrame, limits: RuleLimits | None = None) -> list[Finding]:
    """Failed rollouts in `burst_min_steps` or more steps of any `burst_window_steps`. `value` is the most
    failures in one step, threshold 0."""
    limits = limits or RuleLimits.load()
    steps, failed = observed(run, "rollout_failed_count")
    findings = []
    bursts = burst_episodes(steps, failed, failed > 0, limits.burst_window_steps, limits.burst_min_steps)
    for episode, hits in bursts:
        worst, _ = episode.worst()
        total = num(float(np.sum(episode.values)))
        message = (
            f"rollouts failed in {hits} steps of {limits.burst_window_steps} {span(episode.start, episode.end)} "
            f"({total} failures, at most {num(worst)} in one step; {_bursts(limits)})"
        )
        findings.append(Finding("rollout_failures", WARN, episode.start, episode.end, worst, 0.0, message))
    return findings


def volume_reload_slow(run: pl.DataFrame, limits: RuleLimits | None = None) -> list[Finding]:
    """rollout_max_volume_reload_s above `volume_reload_max_s`."""
    limits = limits or RuleLimits.load()
    ceiling = limits.volume_reload_max_s
    steps, reload_s = observed(run, "rollout_max_volume_reload_s")
    findings = []
    for episode in episodes(steps, reload_s, reload_s > ceiling):
        worst, at = episode.worst()
        message = f"volume reload took {num(worst)} s {worst_at(at, episode)} (threshold {num(ceiling)} s)"
        findings.append(Finding("volume_reload_slow", WARN, episode.start, episode.end, worst, ceiling, message))
    return findings


def rollout_slow(run: pl.DataFrame, limits: RuleLimits | None = None) -> list[Finding]:
    """rollout_max_total_s above `rollout_total_max_s` in `burst_min_steps` or more steps of any
    `burst_window_steps`."""
    limits = limits or RuleLimits.load()
    ceiling = limits.rollout_total_max_s
    steps, total_s = observed(run, "rollout_max_total_s")
    findings = []
    bursts = burst_episodes(steps, total_s, total_s > ceiling, limits.burst_window_steps, limits.burst_min_steps)
    for episode, hits in bursts:
        worst, at = episode.worst()
        message = (
            f"the slowest rollout took over {num(ceiling)} s in {hits} steps of {limits.burst_window_steps} "
            f"{span(episode.start, episode.end)} (up to {num(worst)} s at step {at}; {_bursts(limits)})"
        )
        findings.append(Finding("rollout_slow", WARN, episode.start, episode.end, worst, ceiling, message))
    return findings


def cache_hit_low(run: pl.DataFrame, limits: RuleLimits | None = None) -> list[Finding]:
    """cache_hit_rate below `cache_hit_alarm` once the first `early_steps` steps (the cache's warm-up) are
    past. The alarm sits well below the target (`cache_hit_target`, an asset check)."""
    limits = limits or RuleLimits.load()
    alarm = limits.cache_hit_alarm
    steps, rate = observed(run, "cache_hit_rate")
    if not len(steps):
        return []
    warm = steps >= steps[0] + limits.early_steps
    steps, rate = steps[warm], rate[warm]
    findings = []
    for episode in episodes(steps, rate, rate < alarm):
        worst, at = episode.worst(highest=False)
        message = (
            f"prefix-cache hit rate fell to {worst:.0%} {worst_at(at, episode)} (threshold {alarm:.0%} after "
            f"the first {limits.early_steps} steps; target above {percent(limits.cache_hit_target)})"
        )
        findings.append(Finding("cache_hit_low", WARN, episode.start, episode.end, worst, alarm, message))
    return findings
