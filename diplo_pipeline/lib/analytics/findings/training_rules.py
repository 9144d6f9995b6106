"""Training-dynamics rules: gradients, KL, loss and reward over one run's `run_steps` rows (sorted by step).

Each takes the run's steps and the limits (loaded from thresholds.yml when not given) and returns its
findings. Severities: `error` where the run's results are broken or invalid (KL above `kl_error`, kl_max
above `kl_max_limit`, loss divergence, the EMA-reference bug); `info` for a reward plateau, which may simply
be convergence and calls for a decision rather than a fix; `warn` otherwise.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from diplo_pipeline.lib.analytics.findings.episodes import Episode, episodes, observed, trailing_mean, trailing_median
from diplo_pipeline.lib.analytics.findings.finding import (
    ERROR,
    INFO,
    WARN,
    Finding,
    episode_findings,
    num,
    span,
    worst_at,
)
from diplo_pipeline.lib.analytics.findings.rule_limits import RuleLimits

MAD_TO_SIGMA = 1.4826  # MAD of a normal sample times this estimates its standard deviation
LOSS_BASELINE_MIN_POINTS = 10  # a loss baseline of fewer steps has no reliable spread yet
LOSS_MIN_STEPS_AFTER_JUMP = 3  # one or two last values cannot tell a jump that stays from a blip


def grad_norm_spike(run: pl.DataFrame, limits: RuleLimits | None = None) -> list[Finding]:
    """grad_norm above `grad_norm_max`, or above `grad_norm_spike_factor` times the median of the
    `trailing_window_steps` steps before it."""
    limits = limits or RuleLimits.load()
    steps, grad = observed(run, "grad_norm")
    median = trailing_median(grad, limits.trailing_window_steps)
    relative_limit = np.where(np.isfinite(median), limits.grad_norm_spike_factor * median, np.inf)
    limit = np.minimum(limits.grad_norm_max, relative_limit)
    position = {int(s): i for i, s in enumerate(steps)}
    findings = []
    for episode in episodes(steps, grad, grad > limit):
        worst, at = episode.worst()
        base = median[position[at]]
        threshold = limits.grad_norm_max if worst > limits.grad_norm_max else relative_limit[position[at]]
        context = (
            f"{worst / base:.0f}× its trailing median of {num(base)}"
            if np.isfinite(base)
            else "too early in the run for a trailing median"
        )
        message = (
            f"grad_norm reached {num(worst)} {span(episode.start, episode.end)} "
            f"(threshold {num(threshold)}; {context})"
        )
        findings.append(
            Finding("grad_norm_spike", WARN, episode.start, episode.end, worst, threshold, message)
        )
    return findings


def kl_high(run: pl.DataFrame, limits: RuleLimits | None = None) -> list[Finding]:
    """Mean KL above `kl_warn` (warn); an episode with any step above `kl_error` is an error, with
    `kl_error` as its threshold."""
    limits = limits or RuleLimits.load()
    warn_above, error_above = limits.kl_warn, limits.kl_error
    steps, kl = observed(run, "kl")
    findings = []
    for episode in episodes(steps, kl, kl > warn_above):
        worst, _ = episode.worst()
        severe = int(np.sum(episode.values > error_above))
        severity, threshold = (ERROR, error_above) if severe else (WARN, warn_above)
        message = (
            f"kl reached {num(worst)} {span(episode.start, episode.end)}, above {error_above} on {severe} of "
            f"{len(episode.steps)} steps (warn above {warn_above}, error above {error_above}; healthy 0.01–0.05)"
        )
        findings.append(Finding("kl_high", severity, episode.start, episode.end, worst, threshold, message))
    return findings


def kl_max_explosion(run: pl.DataFrame, limits: RuleLimits | None = None) -> list[Finding]:
    """kl_max above `kl_max_limit`: the repo's instability line (analyze_sweep's `unstable`). An error,
    though the tracker calls it a warning: the sweep success criteria fail a run on it, and it is the
    EMA-reference bug's signature, so results past it are not to be compared without a look."""
    limits = limits or RuleLimits.load()
    steps, kl_max = observed(run, "kl_max")

    def message(worst: float, at: int, episode: Episode) -> str:
        return (
            f"kl_max reached {num(worst)} {worst_at(at, episode)} (threshold {num(limits.kl_max_limit)}, "
            f"the repo's instability line)"
        )

    found = episodes(steps, kl_max, kl_max > limits.kl_max_limit)
    return episode_findings("kl_max_explosion", ERROR, found, limits.kl_max_limit, message)


def loss_divergence(run: pl.DataFrame, limits: RuleLimits | None = None) -> list[Finding]:
    """A non-finite loss (each episode; value NaN/inf, no threshold), or a jump that does not come back."""
    limits = limits or RuleLimits.load()
    steps, loss = observed(run, "loss", keep_nan=True)
    findings = []
    for episode in episodes(steps, loss, ~np.isfinite(loss)):
        message = f"loss was {episode.values[0]} {span(episode.start, episode.end)}"
        findings.append(
            Finding(
                "loss_divergence", ERROR, episode.start, episode.end, float(episode.values[0]), None, message
            )
        )
    finite = np.isfinite(loss)
    jump = persistent_loss_jump(steps[finite], loss[finite], limits)
    return findings + ([jump] if jump else [])


def persistent_loss_jump(steps: np.ndarray, loss: np.ndarray, limits: RuleLimits) -> Finding | None:
    """The first step whose loss is beyond `loss_robust_deviations` robust deviations (MAD) of the
    `loss_baseline_window_steps` steps before it, when the median from there to the end of the run stays
    beyond them too: a jump that does not come back. `threshold` is the edge of the band the loss crossed."""
    deviations, window = limits.loss_robust_deviations, limits.loss_baseline_window_steps
    for i in range(LOSS_BASELINE_MIN_POINTS, len(loss) - LOSS_MIN_STEPS_AFTER_JUMP + 1):
        baseline = loss[max(0, i - window) : i]
        center = float(np.median(baseline))
        band = deviations * MAD_TO_SIGMA * float(np.median(np.abs(baseline - center)))
        if band == 0 or abs(loss[i] - center) <= band:
            continue  # a constant baseline has no scale to judge a jump by
        after = float(np.median(loss[i:]))
        if abs(after - center) <= band:
            continue  # it came back
        rest = Episode(steps[i:], loss[i:])
        worst, _ = rest.worst(highest=after > center)
        edge = center + band if after > center else center - band
        message = (
            f"loss jumped from a trailing median of {num(center)} to {num(float(loss[i]))} at step "
            f"{rest.start} and did not come back (median {num(after)} over steps {rest.start}–{rest.end}; "
            f"band ±{num(band)}, {deviations:g} robust deviations)"
        )
        return Finding("loss_divergence", ERROR, rest.start, rest.end, worst, edge, message)
    return None


def reward_early_decline(run: pl.DataFrame, limits: RuleLimits | None = None) -> list[Finding]:
    """Within the first `early_steps` steps the reward falls more than `early_decline_max` below its first
    value. `value` is the fall as a fraction of |first reward| (a first reward of exactly 0 gives no
    relative scale and is skipped)."""
    limits = limits or RuleLimits.load()
    steps, reward = observed(run, "reward_mean")
    if len(reward) < 2 or reward[0] == 0:
        return []
    early = steps < steps[0] + limits.early_steps
    steps, reward = steps[early], reward[early]
    lowest = int(np.nanargmin(reward))
    fall = float((reward[0] - reward[lowest]) / abs(reward[0]))
    if fall <= limits.early_decline_max:
        return []
    start, end = int(steps[0]), int(steps[lowest])
    message = (
        f"reward fell from {num(reward[0])} at step {start} to {num(reward[lowest])} at step {end} "
        f"(−{fall:.0%}; threshold {limits.early_decline_max:.0%} within the first {limits.early_steps} steps)"
    )
    return [Finding("reward_early_decline", WARN, start, end, fall, limits.early_decline_max, message)]


def reward_plateau(run: pl.DataFrame, limits: RuleLimits | None = None) -> list[Finding]:
    """In a run of `plateau_min_steps` or more steps, the smoothed reward (trailing mean of
    `reward_smoothing_steps`) is no higher at the last step than where the last third begins. `value` is
    that change (≤ 0 when it fires), `threshold` 0. Info: a plateau may be convergence, it asks for a
    decision rather than a fix."""
    limits = limits or RuleLimits.load()
    steps, reward = observed(run, "reward_mean")
    if len(reward) < limits.plateau_min_steps:
        return []
    smoothed = trailing_mean(reward, limits.reward_smoothing_steps)
    third = 2 * len(reward) // 3
    change = float(smoothed[-1] - smoothed[third])
    if change > 0:
        return []
    start, end = int(steps[third]), int(steps[-1])
    message = (
        f"smoothed reward went from {num(smoothed[third])} at step {start} to {num(smoothed[-1])} at step "
        f"{end} ({change:+.3g}): no improvement over the last third of {len(reward)} steps"
    )
    return [Finding("reward_plateau", INFO, start, end, change, 0.0, message)]


def invalid_ema_reference(
    run: pl.DataFrame, uses_ema_reference: bool, limits: RuleLimits | None = None
) -> list[Finding]:
    """The EMA-reference bug's signature (source-data.md §6.13): a run configured with use_ema_reference whose
    steps used cached reference logprobs (`used_cached_ref_logprobs`) with kl_max above `kl_max_limit`."""
    if not uses_ema_reference or not {"kl_max", "used_cached_ref_logprobs"} <= set(run.columns):
        return []
    limits = limits or RuleLimits.load()
    logged = run.select("step", pl.col("kl_max").cast(pl.Float64), "used_cached_ref_logprobs")
    logged = logged.drop_nulls("kl_max")
    steps, kl_max = logged["step"].to_numpy(), logged["kl_max"].to_numpy()
    cached = logged["used_cached_ref_logprobs"].fill_null(False).to_numpy()

    def message(worst: float, at: int, episode: Episode) -> str:
        return (
            f"use_ema_reference with cached reference logprobs and kl_max up to {num(worst)} "
            f"{worst_at(at, episode)}: the EMA-reference bug's signature (threshold {num(limits.kl_max_limit)})"
        )

    found = episodes(steps, kl_max, cached & (kl_max > limits.kl_max_limit))
    return episode_findings("invalid_ema_reference", ERROR, found, limits.kl_max_limit, message)
