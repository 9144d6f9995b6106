"""One finding (a row of the `findings` table before its run and hypothesis are added), and how its
message writes numbers and steps.

`value` and `threshold` are in the metric's own units wherever the rule compares a metric (the worst value
of the episode against the limit it broke); the exceptions say so in their rule's docstring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from diplo_pipeline.lib.analytics.findings.episodes import Episode

INFO, WARN, ERROR = "info", "warn", "error"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    step_start: int | None
    step_end: int | None
    value: float | None
    threshold: float | None
    message: str


def episode_findings(
    rule: str,
    severity: str,
    found: list[Episode],
    threshold: float,
    message: Callable[[float, int, Episode], str],
    highest: bool = True,
) -> list[Finding]:
    """One finding per episode of a rule with one fixed limit: the episode's worst value (the highest, or the
    lowest for a lower limit) against `threshold`, described by `message(worst, its step, episode)`."""
    findings = []
    for episode in found:
        worst, at = episode.worst(highest)
        described = message(worst, at, episode)
        findings.append(Finding(rule, severity, episode.start, episode.end, worst, threshold, described))
    return findings


def num(x: float) -> str:
    """A number as a researcher would write it: 180, 4.5, 0.582, 1052."""
    if not np.isfinite(x):
        return str(x)
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


def percent(share: float) -> str:
    """A share as the guides write it: 0.95 -> '95 %'."""
    return f"{share * 100:g} %"


def span(start: int, end: int) -> str:
    return f"at step {start}" if start == end else f"over steps {start}–{end}"


def worst_at(at: int, episode: Episode) -> str:
    """Where the worst value was, and the episode around it when there is more than that one step."""
    if episode.start == episode.end:
        return f"at step {at}"
    return f"at step {at} of steps {episode.start}–{episode.end}"
