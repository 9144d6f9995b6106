"""Charts of the league and of scaling: every agent's rating, power-law fits (the Elo gap: gaps.py)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import altair as alt

from diplo_pipeline.lib.reports.charts.common import (
    WIDE,
    WIDTH,
    Row,
    chart_data,
    downsample_by,
    finite_rows,
    is_finite,
    step_x,
)

RATING_FIELDS = ["step", "agent", "agent_kind", "checkpoint_step", "elo"]


def ratings_chart(rows: Sequence[Row]) -> alt.LayerChart:
    """Every agent's Elo at the steps it was rated (no series is paired with another's steps).

    This run's checkpoints are solid lines shaded by checkpoint step (older = lighter); baselines and other
    runs' checkpoints are dashed, one colour each, so the two kinds can be told apart at a glance.
    """
    points = downsample_by(finite_rows(rows, "elo"), "agent", ["elo"])
    own = [r for r in points if r["agent_kind"] == "checkpoint"]
    others = [r for r in points if r["agent_kind"] != "checkpoint"]
    tooltip = ["agent:N", "agent_kind:N", "step:Q", alt.Tooltip("elo:Q", format=".1f")]
    checkpoints = (
        alt.Chart(chart_data(own, RATING_FIELDS))
        .mark_line(strokeWidth=1.5)
        .encode(
            x=step_x(),
            y=alt.Y("elo:Q", title="Elo", scale=alt.Scale(zero=False)),
            detail="agent:N",
            color=alt.Color("checkpoint_step:Q", title="checkpoint step", scale=alt.Scale(scheme="blues")),
            tooltip=tooltip,
        )
    )
    baselines = (
        alt.Chart(chart_data(others, RATING_FIELDS))
        .mark_line(strokeWidth=2)
        .encode(
            x=step_x(),
            y=alt.Y("elo:Q", title="Elo"),
            color=alt.Color("agent:N", title="baseline / other", scale=alt.Scale(scheme="set2")),
            strokeDash=alt.StrokeDash(
                "agent_kind:N", title="kind",
                scale=alt.Scale(domain=["baseline", "foreign_checkpoint"], range=[[6, 3], [2, 2]]),
            ),
            tooltip=tooltip,
        )
    )
    return (
        alt.layer(checkpoints, baselines, title="Ratings of every agent")
        .resolve_scale(color="independent")
        .properties(width=WIDE - 220, height=260)
    )


# --- Power-law fits -----------------------------------------------------------------------------------

# y as a function of x for each fitted model (WAREHOUSE.md power_law_fits; methods.md §3.1).
FIT_MODELS: dict[str, Callable[[Mapping[str, float], float], float]] = {
    "power_law": lambda p, x: p["a"] * x ** p["b"],
    "offset_power_law": lambda p, x: p["e"] + p["a"] * x ** (-p["alpha"]),
    "sigmoid": lambda p, x: p["r0"] + (p["a"] - p["r0"]) / (1 + (p["c_mid"] / x) ** p["b"]),
}


def fit_curve(model: str, params: Mapping[str, float], x_low: float, x_high: float, n: int = 60) -> list[dict]:
    """The fitted curve sampled at n log-spaced x; empty when the model or its parameters are unknown."""
    formula = FIT_MODELS.get(model)
    if formula is None or x_low <= 0 or x_high <= x_low:
        return []
    step = (math.log(x_high) - math.log(x_low)) / (n - 1)
    curve = []
    for i in range(n):
        x = math.exp(math.log(x_low) + i * step)
        try:
            y = formula(params, x)
        except (KeyError, TypeError, ValueError, ZeroDivisionError, OverflowError):
            return []
        if is_finite(y) and y > 0:  # a log axis cannot show y <= 0
            curve.append({"x": x, "y": y, "model": model})
    return curve


def power_law_chart(points: Sequence[Row], fits: Sequence[Row], title: str) -> alt.LayerChart:
    """Data points (x, y, series) and fitted curves (rows with model and params) on log–log axes."""
    positive = [p for p in finite_rows(points, "x", "y") if p["x"] > 0 and p["y"] > 0]
    shown = downsample_by(positive, "series", ["y"])
    x_values = [p["x"] for p in positive]
    curves = [
        row
        for fit in fits
        for row in fit_curve(fit["model"], fit["params"], min(x_values, default=0), max(x_values, default=0))
    ]
    # SI-prefixed labels with greedy overlap removal: a log axis otherwise labels every minor tick.
    x = alt.X("x:Q", title="cumulative simulated years", scale=alt.Scale(type="log"),
              axis=alt.Axis(format="~s", labelOverlap="greedy"))
    y = alt.Y("y:Q", title="reward at compute", scale=alt.Scale(type="log"),
              axis=alt.Axis(format="~g", labelOverlap="greedy"))
    dots = (
        alt.Chart(chart_data(shown, ["series", "x", "y"]))
        .mark_circle(size=14, opacity=0.6)
        .encode(
            x=x, y=y, color=alt.Color("series:N", title="run", legend=alt.Legend(labelLimit=320)),
            tooltip=["series:N", "x:Q", "y:Q"],
        )
    )
    lines = (
        alt.Chart(chart_data(curves, ["model", "x", "y"]))
        .mark_line(color="#333")
        .encode(
            x=x, y=y,
            strokeDash=alt.StrokeDash("model:N", title="fit"),
            tooltip=["model:N", alt.Tooltip("x:Q", format=".3g"), alt.Tooltip("y:Q", format=".3g")],
        )
    )
    return alt.layer(dots, lines, title=title).properties(width=WIDTH, height=220)
