"""How a verdict reads wherever it is shown (run and sweep pages, the tracker, the nightly digest, the CLI): a
learning signal always with whether it is significant, an Elo gap always with its 95 % band, a sweep winner
called clear only when the rule said so (README "Verdicts and their uncertainty").

The rules themselves are SQL (macros gap_band_excludes_zero and sweep_verdict, dbt_like_sql/macros/sweeps.sql);
this only words what the warehouse decided. Standard library only: the CLI imports it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

MINUS = "−"
NO_BAND = "no band: no TrueSkill sigma logged"  # written in the brackets a band would fill
VERDICT_WORDS = {"clear_winner": "clear winner", "likely_winner": "likely winner", "close_race": "close race"}


def signed(value: float) -> str:
    """An Elo difference to the point, signed, with a true minus: `+38`, `−260`, `0`."""
    rounded = round(value)
    if rounded == 0:
        return "0"
    return f"+{rounded}" if rounded > 0 else f"{MINUS}{-rounded}"


def _known(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def gap_with_band(gap: float | None, low: float | None, high: float | None) -> str | None:
    """`+38 [−260, +336]`; a gap without a band says so, `+38 [no band: …]`; None without a gap."""
    if not _known(gap):
        return None
    if not (_known(low) and _known(high)):
        return f"{signed(gap)} [{NO_BAND}]"
    return f"{signed(gap)} [{signed(low)}, {signed(high)}]"


def learning_signal_text(learning: Mapping[str, Any] | None) -> str | None:
    """`positive (not significant: gap +38 [−260, +336])`: run_learning's signal with its significance (the
    final gap's band excludes 0 or not); a band wholly below 0 says the checkpoints trail base_model."""
    if not learning or learning.get("learning_signal") is None:
        return None
    signal = learning["learning_signal"]
    low, high = learning.get("final_elo_gap_ci_low"), learning.get("final_elo_gap_ci_high")
    gap = gap_with_band(learning.get("final_elo_gap"), low, high)
    if gap is None:
        return f"{signal} (not significant: no Elo gap)"
    if not learning.get("learning_signal_significant"):
        return f"{signal} (not significant: gap {gap})"
    below = _known(high) and high < 0
    return f"{signal} (significant{', below base_model' if below else ''}: gap {gap})"


def sweep_verdict_text(sweep: Mapping[str, Any], label: Mapping[str, str] | None = None) -> str | None:
    """The verdict in words with the numbers it rests on: `clear winner: C, gap +260 [+158, +359], over A, gap
    +50 [−50, +151]: margin +210 [+68, +352], bands apart`. `label` maps run names to how to call them."""
    verdict = sweep.get("verdict")
    if verdict is None:
        return "no verdict: fewer than two runs with an Elo gap"
    label = label or {}

    def run(prefix: str) -> str:
        name = sweep.get(f"{prefix}_run_name")
        gap = gap_with_band(sweep.get(f"{prefix}_elo_gap"), sweep.get(f"{prefix}_elo_gap_ci_low"),
                            sweep.get(f"{prefix}_elo_gap_ci_high"))
        return f"{label.get(name, name)}, gap {gap}"

    margin = gap_with_band(sweep.get("margin"), sweep.get("margin_ci_low"), sweep.get("margin_ci_high"))
    overlap = sweep.get("bands_overlap")
    bands = "bands unknown" if overlap is None else ("bands overlap" if overlap else "bands apart")
    return f"{VERDICT_WORDS.get(verdict, verdict)}: {run('winner')}, over {run('runner_up')}: margin {margin}, {bands}"


def rankings(runs: Sequence[Mapping[str, Any]], label: Mapping[str, str]) -> list[dict]:
    """analyze_sweep's three rankings side by side, one row per place, each run with the number it is ranked by
    (the gap with its band), from sweep_runs rows (or cli/run_set.sql's); `label` names a run by its letter."""
    def name(row: Mapping[str, Any]) -> str:
        return label.get(row["run_name"]) or row["run_name"]

    def order(rank: str) -> list[Mapping[str, Any]]:
        return sorted(runs, key=lambda row: (row[rank] is None, row[rank] or 0, name(row), row["run_id"]))

    by_gap, by_base, by_drop = (order(rank) for rank in
                                ("rank_by_elo_gap", "rank_by_base_model_elo", "rank_by_reference_drop"))

    def banded(row: Mapping[str, Any]) -> str:
        band = gap_with_band(row["final_elo_gap"], row["final_elo_gap_ci_low"], row["final_elo_gap_ci_high"])
        return band or "no gap"

    return [
        {
            "place": place,
            "by_elo_gap": f"{name(gap)}: {banded(gap)}",
            "by_base_model_elo": f"{name(base)}: {_rounded(base['final_base_model_elo'])}",
            "by_reference_drop": f"{name(drop)}: {_rounded(drop['fixed_reference_drop'])}",
        }
        for place, (gap, base, drop) in enumerate(zip(by_gap, by_base, by_drop, strict=True), start=1)
    ]


def _rounded(value: float | None) -> str:
    return "not rated" if value is None else f"{value:.0f}"
