"""One run in a few lines: the headline cards of its pages and the summaries the tracker shares."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from diplo_pipeline.lib.analytics.verdicts import learning_signal_text
from diplo_pipeline.lib.reports.run_data import RunData
from diplo_pipeline.lib.reports.text import MISSING, fmt, fmt_duration, fmt_gap
from diplo_pipeline.lib.warehouse.thresholds import limit

# The settings a run's pages show first (the whole configuration follows).
CONFIG_FIELDS = (
    "base_model_id", "lora_rank", "learning_rate", "kl_beta", "loss_type", "total_steps", "num_groups_per_step",
    "samples_per_group", "rollout_horizon_years",
)
# run_steps columns summarised in the metric table, in reading order.
STEP_METRICS = (
    "loss", "kl", "kl_max", "reward_mean", "reward_std", "grad_norm", "trajectories_per_s", "sim_years_per_s",
    "rollout_time_s", "training_time_s", "extraction_rate", "rollout_failed_count", "cache_hit_rate",
)
METRIC_COLUMNS = ("metric", "first", "min", "max", "mean", "last", "steps")  # of metric_summary's rows


def finite(steps: Sequence[dict[str, Any]], field: str) -> list[tuple[int, float]]:
    return [
        (s["step"], s[field]) for s in steps if isinstance(s.get(field), int | float) and math.isfinite(s[field])
    ]


def reward_arc(steps: Sequence[dict[str, Any]]) -> str:
    """`start → peak (step) → final` of the mean reward, the tracker's headline for learning progress."""
    series = finite(steps, "reward_mean")
    if not series:
        return MISSING
    peak_step, peak = max(series, key=lambda p: p[1])
    return f"{series[0][1]:.3g} → {peak:.3g} (step {peak_step}) → {series[-1][1]:.3g}"


def mean_and_min(steps: Sequence[dict[str, Any]], field: str) -> str:
    values = [v for _, v in finite(steps, field)]
    if not values:
        return MISSING
    return f"mean {sum(values) / len(values):.3f}, min {min(values):.3f}"


def status_line(run: dict[str, Any]) -> str:
    """`finished at step 159: 160 of 160 configured steps logged`."""
    return (f"{run.get('state')} at step {fmt(run.get('last_step'))}: {fmt(run.get('steps_logged'))} of "
            f"{fmt(run.get('total_steps'))} configured steps logged")


def metric_summary(steps: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for field in STEP_METRICS:
        series = finite(steps, field)
        if series:
            values = [v for _, v in series]
            out.append({
                "metric": field, "first": values[0], "min": min(values), "max": max(values),
                "mean": sum(values) / len(values), "last": values[-1], "steps": len(values),
            })
    return out


def severity_counts(findings: Sequence[dict[str, Any]]) -> str:
    counts = {level: sum(1 for f in findings if f["severity"] == level) for level in ("error", "warn", "info")}
    text = " · ".join(f"{n} {level}" for level, n in counts.items() if n)
    return text or "none"


def has_key_chart(data: RunData) -> bool:
    """Whether the run has a key chart (reward or Elo gap) and so a `.png`."""
    return bool(finite(data.steps, "reward_mean") or finite(data.gap, "elo_gap"))


# --- At a glance ----------------------------------------------------------------------------------------


def _state_tone(state: str | None) -> str:
    return {"finished": "ok", "crashed": "bad", "running": "info"}.get(state or "", "warn")


def _findings_tone(findings: Sequence[dict[str, Any]]) -> str:
    severities = {f["severity"] for f in findings}
    return "bad" if "error" in severities else "warn" if "warn" in severities else "ok"


def _extraction_card(steps: Sequence[dict[str, Any]]) -> tuple[str, Any, str]:
    """The mean extraction rate, ok when no step fell below the extraction target."""
    rates = [v for _, v in finite(steps, "extraction_rate")]
    if not rates:
        return ("extraction rate (mean)", None, "")
    tone = "ok" if min(rates) >= limit("extraction_rate_min") else "warn"
    return ("extraction rate (mean)", sum(rates) / len(rates), tone)


def learning_signal_tone(learning: dict[str, Any]) -> str:
    """ok only for a significant positive signal: a trend whose gap's band includes 0 is not yet a result."""
    signal = learning.get("learning_signal")
    if signal == "positive" and learning.get("learning_signal_significant"):
        return "ok"
    return {"positive": "info", "moderate": "info", "weak": "warn"}.get(signal or "", "")


def headline(data: RunData) -> list[tuple[str, Any, str]]:
    """The run's headline numbers as (label, value, tone): cards in HTML, a table in Markdown."""
    run, learning = data.run, data.learning or {}
    return [
        ("state", run.get("state"), _state_tone(run.get("state"))),
        ("steps logged / configured", f"{fmt(run.get('steps_logged'))} / {fmt(run.get('total_steps'))}", ""),
        ("runtime", fmt_duration(run.get("runtime_s")), ""),
        ("learning signal", learning_signal_text(learning), learning_signal_tone(learning)),
        ("final Elo gap [95 % band]", fmt_gap(learning.get("final_elo_gap"), learning.get("final_elo_gap_ci_low"),
                                              learning.get("final_elo_gap_ci_high")), "info"),
        ("reward start → peak → final", reward_arc(data.steps), ""),
        _extraction_card(data.steps),
        ("findings", severity_counts(data.findings), _findings_tone(data.findings)),
    ]
