"""Charts of the pipeline around training (Axiom, and the trainer's rollout counts): rollouts, hourly
prefix-cache use, and the health of every hour."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt

from diplo_pipeline.lib.reports.charts.common import (
    HEALTH_COLORS,
    HEIGHT,
    LINE_COLOR,
    STATUS_COLORS,
    UTC,
    WIDE,
    WIDTH,
    Row,
    chart_data,
    downsample,
    finite_rows,
    limit_line,
    status_color,
    step_x,
    threshold_rule,
)
from diplo_pipeline.lib.warehouse.thresholds import limit


def failed_rollouts_chart(rows: Sequence[Row]) -> alt.Chart:
    """Rollouts the trainer counted as failed, per step (WandB `rollout/failed_count`)."""
    points = downsample(finite_rows(rows, "rollout_failed_count"), ["rollout_failed_count"])
    return (
        alt.Chart(chart_data(points, ["step", "rollout_failed_count"]), title="Failed rollouts per step (trainer)")
        .mark_bar(color=STATUS_COLORS["failed"], size=3)
        .encode(
            x=step_x(),
            y=alt.Y("rollout_failed_count:Q", title="failed rollouts", axis=alt.Axis(tickMinStep=1)),
            tooltip=["step:Q", "rollout_failed_count:Q"],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )


def rollout_status_chart(rows: Sequence[Row]) -> alt.Chart:
    """Sampled rollouts per hour by final status (Axiom), stacked: failures stand out in red."""
    return (
        alt.Chart(chart_data(rows, ["hour", "status", "rollouts"]), title="Rollouts per hour by status (Axiom sample)")
        .mark_bar()
        .encode(
            x=alt.X("hour:T", timeUnit="utcyearmonthdatehours", title="hour (UTC)"),  # one bar fills its hour
            y=alt.Y("rollouts:Q", title="rollouts"),
            color=status_color(STATUS_COLORS, "status"),
            tooltip=[alt.Tooltip("hour:T", format="%Y-%m-%d %H:00", formatType="utc"), "status:N", "rollouts:Q"],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )


def hourly_cache_hit_chart(rows: Sequence[Row]) -> alt.LayerChart:
    """Per hour from the inference engine's counters (Axiom), for runs whose trainer did not log it."""
    points = finite_rows(rows, "hit_rate")
    line = (
        alt.Chart(chart_data(points, ["hour", "hit_rate", "queries"]), title="Prefix-cache hit rate per hour (Axiom)")
        .mark_line(color=LINE_COLOR, point=True)
        .encode(
            x=alt.X("hour:T", title="hour (UTC)", scale=UTC),
            y=alt.Y("hit_rate:Q", title="hit rate", scale=alt.Scale(zero=False)),
            tooltip=[alt.Tooltip("hour:T", format="%Y-%m-%d %H:00", formatType="utc"),
                     alt.Tooltip("hit_rate:Q", format=".3f"), "queries:Q"],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )
    return line + threshold_rule(*limit_line("cache_hit_target", "target"))


def health_chart(rows: Sequence[Row]) -> alt.LayerChart:
    """Events per hour coloured by the hour's health status, with the error rate on a second axis.

    The error-rate axis starts at 0 and reaches at least the unhealthy error rate, so clean hours lie on
    the floor instead of in the middle of an empty scale.
    """
    worst = max((r["error_rate"] for r in finite_rows(rows, "error_rate")), default=0.0)
    bars = (
        alt.Chart(chart_data(rows, ["hour", "status", "events", "error_events", "error_rate"]))
        .mark_bar(opacity=0.8)
        .encode(
            x=alt.X("hour:T", timeUnit="utcyearmonthdatehours", title="hour (UTC)"),
            y=alt.Y("events:Q", title="events"),
            color=status_color(HEALTH_COLORS, "status"),
            tooltip=[
                alt.Tooltip("hour:T", format="%Y-%m-%d %H:00", formatType="utc"), "status:N", "events:Q",
                "error_events:Q", alt.Tooltip("error_rate:Q", format=".2%"),
            ],
        )
    )
    errors = (
        alt.Chart(chart_data(finite_rows(rows, "error_rate"), ["hour", "error_rate"]))
        .mark_line(color="#333", point=True)
        .encode(
            x=alt.X("hour:T", timeUnit="utcyearmonthdatehours", bandPosition=0.5),
            y=alt.Y("error_rate:Q", title="error rate", axis=alt.Axis(orient="right", format="%"),
                    scale=alt.Scale(domain=[0, max(limit("error_rate_unhealthy"), worst)])),
        )
    )
    return (
        alt.layer(bars, errors, title="Pipeline health per hour")
        .resolve_scale(y="independent")
        .properties(width=WIDE - 160, height=HEIGHT)
    )
