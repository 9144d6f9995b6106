"""The guides' operating targets summed up over a set of hours (health_hourly's, or a run's): per target, how
many hours measured it, how many missed it, and the worst value. The targets (name, measuring column,
direction, limit) are the catalog's macro `operating_targets()` and whether an hour missed one is its
`targets_missed` column (macro `operating_targets_missed`), so no rule or number is restated here: the CLI,
the run report and the nightly digest all sum up the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DIRECTION_WORDS = {"at_least": "≥", "below": "<", "at_most": "≤"}


def target_summary(hours: Sequence[dict[str, Any]], targets: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per target: `hours_measured` (hours with a value), `hours_missed`, `worst` (the lowest value of
    an at-least target, the highest of the others), `worst_hour`, and `met` (NULL when nothing was measured)."""
    summary = []
    for target in targets:
        measured = [hour for hour in hours if hour.get(target["measure"]) is not None]
        missed = [hour for hour in hours if target["target"] in (hour.get("targets_missed") or ())]
        pick = min if target["direction"] == "at_least" else max
        worst = pick(measured, key=lambda hour: hour[target["measure"]], default=None)
        summary.append({
            "target": target["target"],
            "rule": f"{target['measure']} {DIRECTION_WORDS[target['direction']]} {target['limit_value']:g}",
            "hours_measured": len(measured),
            "hours_missed": len(missed),
            "worst": worst[target["measure"]] if worst else None,
            "worst_hour": worst["hour"] if worst else None,
            "met": (not missed) if measured else None,
        })
    return summary
