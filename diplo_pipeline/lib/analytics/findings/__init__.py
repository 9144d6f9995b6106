"""Findings: what an experienced researcher would flag in a run (WAREHOUSE.md `findings`).

One function per rule of WAREHOUSE.md's table. Step rules read one run's `run_steps` rows (a polars frame
sorted by step); run rules read the run's `runs` row or its `elo_agent_summary` rows. Each returns
`Finding`s; `find_all` runs every rule over every run and returns the table.

Episodes. An episode is a maximal stretch of offending steps with no *observed* step within limits between
them: a step that did not log the metric (skipped for lack of trajectories, or a key that run never logs)
neither breaks an episode nor extends it, so `step_start`/`step_end` are always offending steps. The two
"3 or more steps of any 10" rules merge overlapping qualifying windows instead.

`value` and `threshold` are in the metric's own units wherever the rule compares a metric (the worst value
of the episode against the limit it broke); the exceptions say so in their docstring.

Severities: `error` where the run's results are broken or invalid (KL above 0.2, kl_max above 10, loss
divergence, a crash, the EMA-reference bug); `info` for a reward plateau, which may simply be convergence and
calls for a decision rather than a fix; `warn` for everything else. Thresholds are WAREHOUSE.md's, which are
the repo's own (source-data.md §3.6).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

INFO, WARN, ERROR = "info", "warn", "error"

GRAD_NORM_MAX = 50.0
GRAD_NORM_SPIKE_FACTOR = 5.0
TRAILING_WINDOW = 10  # steps of history behind a trailing median
TRAILING_MIN_POINTS = 5  # a median of fewer earlier steps is not a baseline yet
KL_WARN, KL_ERROR = 0.1, 0.2
KL_MAX_LIMIT = 10.0
LOSS_ROBUST_DEVIATIONS = 5.0
LOSS_BASELINE_WINDOW = 20
LOSS_BASELINE_MIN_POINTS = 10
LOSS_MIN_STEPS_AFTER_JUMP = 3  # one or two last values cannot tell a jump that stays from a blip
MAD_TO_SIGMA = 1.4826  # MAD of a normal sample times this estimates its standard deviation
EARLY_STEPS = 10
EARLY_DECLINE_LIMIT = 0.30
PLATEAU_MIN_STEPS = 60
REWARD_SMOOTHING = 10  # trailing mean over this many steps
EXTRACTION_RATE_MIN = 0.95
EMPTY_SHARE_MAX = 0.05
# WandB logs no response count. A response answers for one power in one phase; powers hold about four units
# on average, so orders_expected / 4 estimates the responses (the demo generator's self-check uses the same).
ORDERS_PER_RESPONSE = 4.0
BURST_WINDOW, BURST_MIN_STEPS = 10, 3  # "in 3 or more steps of any 10"
VOLUME_RELOAD_MAX_S = 10.0
ROLLOUT_TOTAL_MAX_S = 120.0
CACHE_HIT_MIN = 0.30
CHECKPOINT_DECLINE = -20.0  # final − peak at or below this is `declining` (elo_agent_summary)
BASELINE_RISE_MAX = 20.0

HYPOTHESES = {
    "grad_norm_spike": (
        "Optimisation instability: one batch produced an outsized gradient (grad_norm is logged before "
        "clipping). Lower the learning rate or clip gradients harder (max_grad_norm); if KL spikes at the "
        "same steps, the update pushed the policy somewhere it could not recover from."
    ),
    "kl_high": (
        "The policy is drifting from the reference faster than the KL penalty holds it (healthy KL is "
        "0.01–0.05). Lower the learning rate or clip gradients; raise kl_beta or set a kl_target."
    ),
    "kl_max_explosion": (
        "Some sequences moved far from the reference: an unstable update or degenerate generations. Lower "
        "the learning rate or clip gradients; with use_ema_reference on, suspect the EMA-reference bug "
        "instead."
    ),
    "loss_divergence": (
        "Training diverged: the loss left its usual range for good (or became NaN/inf). Restart from the "
        "last good checkpoint with a lower learning rate or tighter gradient clipping; for a non-finite "
        "loss also check for bf16 overflow and empty batches."
    ),
    "reward_early_decline": (
        "The first updates hurt the policy: usually too high a learning rate, or model degradation (broken "
        "order format, fewer valid orders). Check the extraction rate, the prompt structure and the logits "
        "processor; lower the learning rate or warm the KL penalty up."
    ),
    "reward_plateau": (
        "Learning has stalled, or converged against these opponents. Run more steps only if the Elo gap is "
        "still growing; otherwise train against more diverse opponents (stronger baselines such as DumbBot, "
        "the PFSP mix) or revisit the reward."
    ),
    "extraction_rate_low": (
        "The parser cannot extract the model's orders (target above 95 %): model degradation or a prompt "
        "change. Check the prompt structure (valid-moves list, format instructions) and the logits "
        "processor; extraction_by_power shows which power lost the orders."
    ),
    "empty_responses_spike": (
        "Many responses carry no orders at all (target under 5 %): truncated generations or a broken "
        "format. Check max_tokens, the prompt structure and the logits processor (the count also includes "
        "legitimate no-orders-needed warm-up responses)."
    ),
    "rollout_failures": (
        "Rollouts fail repeatedly, not as an isolated blip: an infrastructure problem (container crashes, "
        "inference timeouts, volume errors). Read the rollout_error events of those hours; a deeper buffer "
        "absorbs isolated failures but not a systematic one."
    ),
    "volume_reload_slow": (
        "Reloading the adapter volume is slow: volume I/O is the bottleneck. Reload only when a new adapter "
        "was committed, keep adapters small, and commit the volume less often."
    ),
    "rollout_slow": (
        "Rollouts run long (p95 target under 120 s): the inference engine is saturated or long-horizon "
        "games dominate. Deepen the rollout buffer so training does not wait, and check inference "
        "throughput, batch size and volume I/O."
    ),
    "cache_hit_low": (
        "The prefix cache is barely used (target above 50 % after warm-up): prompts differ before their "
        "shared part. Put the static prefix first (system prompt, rules, instructions) and the game state "
        "last."
    ),
    "checkpoint_regression": (
        "The newest checkpoint is losing the rating it reached: the latest updates made the policy weaker, "
        "or the league found how to exploit it. Compare it with the previous checkpoint; lower the learning "
        "rate, or add more diverse opponents so it does not overfit the current league."
    ),
    "baselines_rising": (
        "A fixed baseline gains rating, so it beats the trained policy more often than it used to: the "
        "policy is forgetting how to play it, or exploiting league peers instead. Put that baseline back in "
        "the opponent mix (more diverse opponents) and check the reward for hacking."
    ),
    "run_crashed": (
        "The trainer died without an exit record: usually out of memory, a preemption or a container "
        "timeout. Check the Modal logs and gpu_stats around the last step (the trainer's own Axiom events "
        "are lost in a crash), then resume from the last saved state."
    ),
    "invalid_ema_reference": (
        "The EMA-reference bug (fixed 2025-12-28): the cached reference logprobs came from the rollout "
        "policy, so KL was measured against the wrong model. The run's results are invalid: exclude it from "
        "comparisons and rerun with the fix, or with use_ema_reference off."
    ),
}

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


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    step_start: int | None
    step_end: int | None
    value: float | None
    threshold: float | None
    message: str

    @property
    def hypothesis(self) -> str:
        return HYPOTHESES[self.rule]


@dataclass(frozen=True)
class Episode:
    """Offending steps of one run with the metric's values there (parallel arrays, in step order)."""

    steps: np.ndarray
    values: np.ndarray

    @property
    def start(self) -> int:
        return int(self.steps[0])

    @property
    def end(self) -> int:
        return int(self.steps[-1])

    def worst(self, highest: bool = True) -> tuple[float, int]:
        """(worst value, its step): the highest by default, the lowest for rules with a lower limit."""
        index = int(np.nanargmax(self.values) if highest else np.nanargmin(self.values))
        return float(self.values[index]), int(self.steps[index])


# --- helpers -----------------------------------------------------------------------------------------


def nothing_observed() -> tuple[np.ndarray, np.ndarray]:
    return np.array([], dtype=np.int64), np.array([], dtype=np.float64)


def observed(steps: pl.DataFrame, column: str, keep_nan: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) where the metric was logged. NaN counts as not logged unless `keep_nan` (for the
    loss, where NaN is itself a finding)."""
    if column not in steps.columns:
        return nothing_observed()
    logged = steps.select("step", pl.col(column).cast(pl.Float64)).drop_nulls()
    if not keep_nan:
        logged = logged.drop_nans()
    return logged["step"].to_numpy(), logged[column].to_numpy()


def episodes(steps: np.ndarray, values: np.ndarray, offending: np.ndarray) -> list[Episode]:
    """Maximal runs of consecutive offending observations (see the module docstring)."""
    flags = np.concatenate([[False], offending.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(flags.astype(np.int8)))
    return [Episode(steps[start:end], values[start:end]) for start, end in zip(edges[::2], edges[1::2], strict=True)]


def burst_episodes(steps: np.ndarray, values: np.ndarray, offending: np.ndarray) -> list[tuple[Episode, int]]:
    """Stretches where offending steps number BURST_MIN_STEPS or more within BURST_WINDOW consecutive step
    numbers, overlapping windows merged; with the most offending steps any one window of the stretch holds."""
    hit_steps, hit_values = steps[offending], values[offending]
    stretches: list[list[int]] = []  # [first index, last index, most hits in a window]
    for first, start in enumerate(hit_steps):
        last = int(np.searchsorted(hit_steps, start + BURST_WINDOW)) - 1  # window = start .. start + 9
        hits = last - first + 1
        if hits < BURST_MIN_STEPS:
            continue
        if stretches and first <= stretches[-1][1]:
            stretches[-1][1] = max(stretches[-1][1], last)
            stretches[-1][2] = max(stretches[-1][2], hits)
        else:
            stretches.append([first, last, hits])
    return [
        (Episode(hit_steps[first : last + 1], hit_values[first : last + 1]), hits)
        for first, last, hits in stretches
    ]


def trailing_median(values: np.ndarray) -> np.ndarray:
    """Median of the TRAILING_WINDOW observations before each one (NaN until TRAILING_MIN_POINTS exist)."""
    medians = np.full(len(values), np.nan)
    for i in range(TRAILING_MIN_POINTS, len(values)):
        medians[i] = np.nanmedian(values[max(0, i - TRAILING_WINDOW) : i])
    return medians


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    sums = np.cumsum(np.concatenate([[0.0], values]))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    ends = np.arange(1, len(values) + 1)
    return (sums[ends] - sums[ends - counts]) / counts


def num(x: float) -> str:
    """A number as a researcher would write it: 180, 4.5, 0.582, 1052."""
    if not np.isfinite(x):
        return str(x)
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


def span(start: int, end: int) -> str:
    return f"at step {start}" if start == end else f"over steps {start}–{end}"


def worst_at(at: int, episode: Episode) -> str:
    """Where the worst value was, and the episode around it when there is more than that one step."""
    if episode.start == episode.end:
        return f"at step {at}"
    return f"at step {at} of steps {episode.start}–{episode.end}"


# --- step rules: one run's run_steps rows, sorted by step ---------------------------------------------


def grad_norm_spike(run: pl.DataFrame) -> list[Finding]:
    """grad_norm above 50, or above 5× the median of the 10 steps before it."""
    steps, grad = observed(run, "grad_norm")
    median = trailing_median(grad)
    relative_limit = np.where(np.isfinite(median), GRAD_NORM_SPIKE_FACTOR * median, np.inf)
    limit = np.minimum(GRAD_NORM_MAX, relative_limit)
    position = {int(s): i for i, s in enumerate(steps)}
    findings = []
    for episode in episodes(steps, grad, grad > limit):
        worst, at = episode.worst()
        base = median[position[at]]
        threshold = GRAD_NORM_MAX if worst > GRAD_NORM_MAX else relative_limit[position[at]]
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


def kl_high(run: pl.DataFrame) -> list[Finding]:
    """Mean KL above 0.1 (warn); an episode with any step above 0.2 is an error, with 0.2 as its threshold."""
    steps, kl = observed(run, "kl")
    findings = []
    for episode in episodes(steps, kl, kl > KL_WARN):
        worst, _ = episode.worst()
        severe = int(np.sum(episode.values > KL_ERROR))
        severity, threshold = (ERROR, KL_ERROR) if severe else (WARN, KL_WARN)
        message = (
            f"kl reached {num(worst)} {span(episode.start, episode.end)}, above {KL_ERROR} on {severe} of "
            f"{len(episode.steps)} steps (warn above {KL_WARN}, error above {KL_ERROR}; healthy 0.01–0.05)"
        )
        findings.append(Finding("kl_high", severity, episode.start, episode.end, worst, threshold, message))
    return findings


def kl_max_explosion(run: pl.DataFrame) -> list[Finding]:
    """kl_max above 10: the repo's instability line (analyze_sweep's `unstable`). An error, though the tracker
    calls it a warning: the sweep success criteria fail a run on it, and it is the EMA-reference bug's
    signature, so results past it are not to be compared without a look."""
    steps, kl_max = observed(run, "kl_max")
    findings = []
    for episode in episodes(steps, kl_max, kl_max > KL_MAX_LIMIT):
        worst, at = episode.worst()
        message = (
            f"kl_max reached {num(worst)} {worst_at(at, episode)} (threshold {num(KL_MAX_LIMIT)}, "
            f"the repo's instability line)"
        )
        findings.append(
            Finding("kl_max_explosion", ERROR, episode.start, episode.end, worst, KL_MAX_LIMIT, message)
        )
    return findings


def loss_divergence(run: pl.DataFrame) -> list[Finding]:
    """A non-finite loss (each episode; value NaN/inf, no threshold), or a jump that does not come back."""
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
    jump = persistent_loss_jump(steps[finite], loss[finite])
    return findings + ([jump] if jump else [])


def persistent_loss_jump(steps: np.ndarray, loss: np.ndarray) -> Finding | None:
    """The first step whose loss is beyond 5 robust deviations (MAD) of the 20 steps before it, when the
    median from there to the end of the run stays beyond them too: a jump that does not come back.
    `threshold` is the edge of the band the loss crossed."""
    for i in range(LOSS_BASELINE_MIN_POINTS, len(loss) - LOSS_MIN_STEPS_AFTER_JUMP + 1):
        baseline = loss[max(0, i - LOSS_BASELINE_WINDOW) : i]
        center = float(np.median(baseline))
        band = LOSS_ROBUST_DEVIATIONS * MAD_TO_SIGMA * float(np.median(np.abs(baseline - center)))
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
            f"band ±{num(band)}, {LOSS_ROBUST_DEVIATIONS:g} robust deviations)"
        )
        return Finding("loss_divergence", ERROR, rest.start, rest.end, worst, edge, message)
    return None


def reward_early_decline(run: pl.DataFrame) -> list[Finding]:
    """Within the first 10 steps the reward falls more than 30 % below its first value. `value` is the fall as
    a fraction of |first reward| (a first reward of exactly 0 gives no relative scale and is skipped)."""
    steps, reward = observed(run, "reward_mean")
    if len(reward) < 2 or reward[0] == 0:
        return []
    early = steps < steps[0] + EARLY_STEPS
    steps, reward = steps[early], reward[early]
    lowest = int(np.nanargmin(reward))
    fall = float((reward[0] - reward[lowest]) / abs(reward[0]))
    if fall <= EARLY_DECLINE_LIMIT:
        return []
    start, end = int(steps[0]), int(steps[lowest])
    message = (
        f"reward fell from {num(reward[0])} at step {start} to {num(reward[lowest])} at step {end} "
        f"(−{fall:.0%}; threshold {EARLY_DECLINE_LIMIT:.0%} within the first {EARLY_STEPS} steps)"
    )
    return [Finding("reward_early_decline", WARN, start, end, fall, EARLY_DECLINE_LIMIT, message)]


def reward_plateau(run: pl.DataFrame) -> list[Finding]:
    """In a run of 60 or more steps, the smoothed reward (trailing mean of 10) is no higher at the last step
    than where the last third begins. `value` is that change (≤ 0 when it fires), `threshold` 0. Info: a
    plateau may be convergence, it asks for a decision rather than a fix."""
    steps, reward = observed(run, "reward_mean")
    if len(reward) < PLATEAU_MIN_STEPS:
        return []
    smoothed = trailing_mean(reward, REWARD_SMOOTHING)
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


def extraction_rate_low(run: pl.DataFrame) -> list[Finding]:
    """extraction_rate below 0.95 (the repo's target: more than 95 % of expected orders extracted)."""
    steps, rate = observed(run, "extraction_rate")
    findings = []
    for episode in episodes(steps, rate, rate < EXTRACTION_RATE_MIN):
        worst, at = episode.worst(highest=False)
        message = (
            f"extraction_rate fell to {num(worst)} {worst_at(at, episode)} "
            f"(threshold {EXTRACTION_RATE_MIN}: the repo's target is more than 95 % of expected orders)"
        )
        findings.append(
            Finding(
                "extraction_rate_low", WARN, episode.start, episode.end, worst, EXTRACTION_RATE_MIN, message
            )
        )
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


def empty_responses_spike(run: pl.DataFrame) -> list[Finding]:
    """Empty responses above 5 % of a step's responses (`empty_response_share` says how they are counted)."""
    steps, share = empty_response_share(run)
    findings = []
    for episode in episodes(steps, share, share > EMPTY_SHARE_MAX):
        worst, at = episode.worst()
        message = (
            f"empty responses reached {worst:.1%} of responses {worst_at(at, episode)} (threshold "
            f"{EMPTY_SHARE_MAX:.0%}; responses estimated as orders_expected / {ORDERS_PER_RESPONSE:g})"
        )
        findings.append(
            Finding(
                "empty_responses_spike", WARN, episode.start, episode.end, worst, EMPTY_SHARE_MAX, message
            )
        )
    return findings


def rollout_failures(run: pl.DataFrame) -> list[Finding]:
    """Failed rollouts in 3 or more steps of any 10. `value` is the most failures in one step, threshold 0."""
    steps, failed = observed(run, "rollout_failed_count")
    findings = []
    for episode, hits in burst_episodes(steps, failed, failed > 0):
        worst, _ = episode.worst()
        total = num(float(np.sum(episode.values)))
        message = (
            f"rollouts failed in {hits} steps of {BURST_WINDOW} {span(episode.start, episode.end)} "
            f"({total} failures, at most {num(worst)} in one step; "
            f"threshold {BURST_MIN_STEPS} steps of any {BURST_WINDOW})"
        )
        findings.append(Finding("rollout_failures", WARN, episode.start, episode.end, worst, 0.0, message))
    return findings


def volume_reload_slow(run: pl.DataFrame) -> list[Finding]:
    """rollout_max_volume_reload_s above 10 s."""
    steps, reload_s = observed(run, "rollout_max_volume_reload_s")
    findings = []
    for episode in episodes(steps, reload_s, reload_s > VOLUME_RELOAD_MAX_S):
        worst, at = episode.worst()
        threshold = f"threshold {num(VOLUME_RELOAD_MAX_S)} s"
        message = f"volume reload took {num(worst)} s {worst_at(at, episode)} ({threshold})"
        findings.append(
            Finding(
                "volume_reload_slow", WARN, episode.start, episode.end, worst, VOLUME_RELOAD_MAX_S, message
            )
        )
    return findings


def rollout_slow(run: pl.DataFrame) -> list[Finding]:
    """rollout_max_total_s above 120 s in 3 or more steps of any 10."""
    steps, total_s = observed(run, "rollout_max_total_s")
    findings = []
    for episode, hits in burst_episodes(steps, total_s, total_s > ROLLOUT_TOTAL_MAX_S):
        worst, at = episode.worst()
        message = (
            f"the slowest rollout took over {num(ROLLOUT_TOTAL_MAX_S)} s in {hits} steps of {BURST_WINDOW} "
            f"{span(episode.start, episode.end)} (up to {num(worst)} s at step {at}; "
            f"threshold {BURST_MIN_STEPS} steps of any {BURST_WINDOW})"
        )
        findings.append(
            Finding("rollout_slow", WARN, episode.start, episode.end, worst, ROLLOUT_TOTAL_MAX_S, message)
        )
    return findings


def cache_hit_low(run: pl.DataFrame) -> list[Finding]:
    """cache_hit_rate below 0.30 once the first 10 steps (the cache's warm-up) are past."""
    steps, rate = observed(run, "cache_hit_rate")
    if not len(steps):
        return []
    warm = steps >= steps[0] + EARLY_STEPS
    steps, rate = steps[warm], rate[warm]
    findings = []
    for episode in episodes(steps, rate, rate < CACHE_HIT_MIN):
        worst, at = episode.worst(highest=False)
        message = (
            f"prefix-cache hit rate fell to {worst:.0%} {worst_at(at, episode)} "
            f"(threshold {CACHE_HIT_MIN:.0%} after the first {EARLY_STEPS} steps; target above 50 %)"
        )
        findings.append(
            Finding("cache_hit_low", WARN, episode.start, episode.end, worst, CACHE_HIT_MIN, message)
        )
    return findings


STEP_RULES: tuple[Callable[[pl.DataFrame], list[Finding]], ...] = (
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


def invalid_ema_reference(run: pl.DataFrame, uses_ema_reference: bool) -> list[Finding]:
    """The EMA-reference bug's signature (source-data.md §6.13): a run configured with use_ema_reference whose
    steps used cached reference logprobs (`used_cached_ref_logprobs`) with kl_max above 10."""
    if not uses_ema_reference or not {"kl_max", "used_cached_ref_logprobs"} <= set(run.columns):
        return []
    logged = run.select("step", pl.col("kl_max").cast(pl.Float64), "used_cached_ref_logprobs")
    logged = logged.drop_nulls("kl_max")
    steps, kl_max = logged["step"].to_numpy(), logged["kl_max"].to_numpy()
    cached = logged["used_cached_ref_logprobs"].fill_null(False).to_numpy()
    findings = []
    for episode in episodes(steps, kl_max, cached & (kl_max > KL_MAX_LIMIT)):
        worst, at = episode.worst()
        message = (
            f"use_ema_reference with cached reference logprobs and kl_max up to {num(worst)} "
            f"{worst_at(at, episode)}: the EMA-reference bug's signature (threshold {num(KL_MAX_LIMIT)})"
        )
        findings.append(
            Finding("invalid_ema_reference", ERROR, episode.start, episode.end, worst, KL_MAX_LIMIT, message)
        )
    return findings


# --- run rules ------------------------------------------------------------------------------------------


def run_crashed(run: dict) -> list[Finding]:
    """State `crashed`. `value` is the last step reached; no threshold."""
    if run["state"] != "crashed":
        return []
    last = run["last_step"]
    configured = f" of {run['total_steps']} configured" if run.get("total_steps") is not None else ""
    reached = f"after step {last}{configured}" if last is not None else "before logging any step"
    message = f"the run crashed {reached} (no exit record)"
    value = float(last) if last is not None else None
    return [Finding("run_crashed", ERROR, last, last, value, None, message)]


def checkpoint_regression(agents: pl.DataFrame) -> list[Finding]:
    """The run's newest checkpoint (highest checkpoint_step) has trend `declining`. `value` is final − peak
    Elo, `threshold` −20; the episode runs from the peak to the final rating."""
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
        f"({drop:+.1f} Elo; declining at {CHECKPOINT_DECLINE:.0f} or worse)"
    )
    return [
        Finding(
            "checkpoint_regression",
            WARN,
            newest["peak_step"],
            newest["final_step"],
            drop,
            CHECKPOINT_DECLINE,
            message,
        )
    ]


def baselines_rising(agents: pl.DataFrame) -> list[Finding]:
    """A baseline whose final rating is more than 20 above its first observed one (one finding per baseline).
    `value` is final − initial Elo; the episode runs from its first rating (`initial_step`) to its last."""
    rising = agents.filter(
        (pl.col("agent_kind") == "baseline")
        & (pl.col("final_elo") - pl.col("initial_elo") > BASELINE_RISE_MAX)
    ).sort("agent")
    findings = []
    for agent in rising.iter_rows(named=True):
        change = agent["final_elo"] - agent["initial_elo"]
        message = (
            f"baseline {agent['agent']} rose from {num(agent['initial_elo'])} to {num(agent['final_elo'])} "
            f"by step {agent['final_step']} ({change:+.1f} Elo; threshold +{BASELINE_RISE_MAX:.0f})"
        )
        findings.append(
            Finding(
                "baselines_rising",
                WARN,
                agent.get("initial_step"),
                agent["final_step"],
                change,
                BASELINE_RISE_MAX,
                message,
            )
        )
    return findings


# --- all rules over all runs --------------------------------------------------------------------------


def run_findings(run: dict, steps: pl.DataFrame, agents: pl.DataFrame) -> list[Finding]:
    """Every rule over one run: its `runs` row, its run_steps rows, its elo_agent_summary rows."""
    steps = steps.sort("step")
    found = [finding for rule in STEP_RULES for finding in rule(steps)]
    found += invalid_ema_reference(steps, bool(run.get("use_ema_reference")))
    found += run_crashed(run) + checkpoint_regression(agents) + baselines_rising(agents)
    return found


def find_all(run_steps: pl.DataFrame, runs: pl.DataFrame, agents: pl.DataFrame) -> pl.DataFrame:
    """The `findings` table.

    run_steps: the `run_steps` table, plus `used_cached_ref_logprobs` (bool) where known.
    runs: run_id, run_name, state, last_step, total_steps, use_ema_reference (bool).
    agents: `elo_agent_summary`, plus `initial_step` (the step of each agent's first rating).
    """
    steps_by_run = run_steps.partition_by("run_id", as_dict=True)
    agents_by_run = agents.partition_by("run_id", as_dict=True)
    rows = []
    for run in runs.sort("run_name", "run_id").iter_rows(named=True):  # names may repeat: ids break ties
        steps = steps_by_run.get((run["run_id"],), run_steps.clear())
        run_agents = agents_by_run.get((run["run_id"],), agents.clear())
        for finding in run_findings(run, steps, run_agents):
            identity = {"run_id": run["run_id"], "run_name": run["run_name"]}
            rows.append({**identity, **asdict(finding), "hypothesis": finding.hypothesis})
    # maintain_order: rows that tie on every key keep the order the rules made them in, so each build
    # writes the same bytes.
    return pl.DataFrame(rows, schema=FINDINGS_SCHEMA).sort(
        "run_name", "run_id", "step_start", "rule", nulls_last=True, maintain_order=True
    )
