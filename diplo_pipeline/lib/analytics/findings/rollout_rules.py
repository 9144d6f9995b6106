"""Rollout rules: what the rollouts produced (extracted orders, empty responses, the prefix cache) and how
reliably and fast they ran, over one run's `run_steps` rows (sorted by step). All warn.

Each takes the run's steps and the limits (loaded from thresholds.yml when not given) and returns its
findings.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from diplo_pipeline.lib.analytics.findings.episodes import (
    Episode,
    burst_episodes,
    episodes,
    nothing_observed,
    observed,
)
from diplo_pipeline.lib.analytics.findings.finding import (
    WARN,
    Finding,
    episode_findings,
    num,
    percent,
    span,
    worst_at,
)
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

    def message(worst: float, at: int, episode: Episode) -> str:
        return (
            f"extraction_rate fell to {num(worst)} {worst_at(at, episode)} "
            f"(threshold {floor}: the repo's target is more than {percent(floor)} of expected orders)"
        )

    found = episodes(steps, rate, rate < floor)
    return episode_findings("extraction_rate_low", WARN, found, floor, message, highest=False)


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

    def message(worst: float, at: int, episode: Episode) -> str:
        return (
            f"empty responses reached {worst:.1%} of responses {worst_at(at, episode)} (threshold "
            f"{ceiling:.0%}; responses estimated as orders_expected / {ORDERS_PER_RESPONSE:g})"
        )

    return episode_findings("empty_responses_spike", WARN, episodes(steps, share, share > ceiling), ceiling, message)


def rollout_failures(run: pl.DataFrame, limits: RuleLimits | None = None) -> list[Finding]:
    """Failed rollouts in `burst_min_steps` or more steps of any `burst_window_steps`. `value` is the most
    failures in one step, threshold 0."""
    limits = limits or RuleLimits.load()
    steps, failed = observed(run, "rollout_failed_count")

    def detail(worst: float, at: int, episode: Episode) -> str:
        return f"{num(float(np.sum(episode.values)))} failures, at most {num(worst)} in one step"

    return _burst_findings("rollout_failures", "rollouts failed", (steps, failed, failed > 0), 0.0, limits, detail)


def volume_reload_slow(run: pl.DataFrame, limits: RuleLimits | None = None) -> list[Finding]:
    """rollout_max_volume_reload_s above `volume_reload_max_s`."""
    limits = limits or RuleLimits.load()
    ceiling = limits.volume_reload_max_s
    steps, reload_s = observed(run, "rollout_max_volume_reload_s")

    def message(worst: float, at: int, episode: Episode) -> str:
        return f"volume reload took {num(worst)} s {worst_at(at, episode)} (threshold {num(ceiling)} s)"

    found = episodes(steps, reload_s, reload_s > ceiling)
    return episode_findings("volume_reload_slow", WARN, found, ceiling, message)


def rollout_slow(run: pl.DataFrame, limits: RuleLimits | None = None) -> list[Finding]:
    """rollout_max_total_s above `rollout_total_max_s` in `burst_min_steps` or more steps of any
    `burst_window_steps`."""
    limits = limits or RuleLimits.load()
    ceiling = limits.rollout_total_max_s
    steps, total_s = observed(run, "rollout_max_total_s")

    def detail(worst: float, at: int, episode: Episode) -> str:
        return f"up to {num(worst)} s at step {at}"

    what = f"the slowest rollout took over {num(ceiling)} s"
    return _burst_findings("rollout_slow", what, (steps, total_s, total_s > ceiling), ceiling, limits, detail)


def _burst_findings(
    rule: str,
    what: str,
    observations: tuple[np.ndarray, np.ndarray, np.ndarray],
    threshold: float,
    limits: RuleLimits,
    detail: Callable[[float, int, Episode], str],
) -> list[Finding]:
    """One finding per burst of offending steps (`observations`: steps, values, offending), its worst value
    against `threshold`; the message says `what` happened how often, and `detail(worst, its step, episode)`."""
    window, least = limits.burst_window_steps, limits.burst_min_steps
    findings = []
    for episode, hits in burst_episodes(*observations, window, least):
        worst, at = episode.worst()
        message = (
            f"{what} in {hits} steps of {window} {span(episode.start, episode.end)} "
            f"({detail(worst, at, episode)}; threshold {least} steps of any {window})"
        )
        findings.append(Finding(rule, WARN, episode.start, episode.end, worst, threshold, message))
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

    def message(worst: float, at: int, episode: Episode) -> str:
        return (
            f"prefix-cache hit rate fell to {worst:.0%} {worst_at(at, episode)} (threshold {alarm:.0%} after "
            f"the first {limits.early_steps} steps; target above {percent(limits.cache_hit_target)})"
        )

    return episode_findings("cache_hit_low", WARN, episodes(steps, rate, rate < alarm), alarm, message, highest=False)
