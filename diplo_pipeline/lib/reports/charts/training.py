"""Charts of a run's training steps (WandB): loss, KL, reward, gradient norm, throughput, extraction, cache."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt

from diplo_pipeline.lib.reports.charts.common import (
    BAND_COLOR,
    HEIGHT,
    LINE_COLOR,
    WIDTH,
    Row,
    chart_data,
    downsample,
    finite_rows,
    is_finite,
    limit_line,
    step_x,
    threshold_rule,
)


def step_line(
    rows: Sequence[Row],
    field: str,
    title: str,
    y_title: str | None = None,
    threshold: tuple[float, str] | None = None,
    scale: alt.Scale | None = None,
    color: str = LINE_COLOR,
) -> alt.LayerChart:
    """One metric over training steps, downsampled with its spikes kept, with an optional limit line."""
    points = downsample(finite_rows(rows, field), [field])
    y = alt.Y(f"{field}:Q", title=y_title or field, scale=scale or alt.Scale(zero=False))
    line = (
        alt.Chart(chart_data(points, ["step", field]))
        .mark_line(color=color, point=len(points) <= 60)
        .encode(x=step_x(), y=y, tooltip=["step:Q", alt.Tooltip(f"{field}:Q", format=".4g")])
    )
    layers = [line, threshold_rule(*threshold)] if threshold else [line]
    return alt.layer(*layers, title=title).properties(width=WIDTH, height=HEIGHT)


def loss_chart(rows: Sequence[Row]) -> alt.LayerChart:
    return step_line(rows, "loss", "Loss", "loss")


def kl_chart(rows: Sequence[Row]) -> alt.LayerChart:
    return step_line(rows, "kl", "KL divergence (mean)", "kl", threshold=limit_line("kl_warn", "warn"))


def grad_norm_chart(rows: Sequence[Row]) -> alt.LayerChart:
    # symlog: a healthy norm of ~3 stays readable next to the limit and a spike several times above it.
    return step_line(
        rows, "grad_norm", "Gradient norm (pre-clip)", "grad norm", threshold=limit_line("grad_norm_max", "limit"),
        scale=alt.Scale(type="symlog"),
    )


def extraction_chart(rows: Sequence[Row]) -> alt.LayerChart:
    return step_line(
        rows, "extraction_rate", "Order extraction rate", "extraction rate",
        threshold=limit_line("extraction_rate_min", "target"),
    )


def cache_hit_chart(rows: Sequence[Row]) -> alt.LayerChart:
    """Per step where the trainer logged it."""
    return step_line(
        rows, "cache_hit_rate", "Prefix-cache hit rate", "hit rate", threshold=limit_line("cache_hit_target", "target")
    )


def reward_chart(rows: Sequence[Row]) -> alt.LayerChart:
    """Reward mean with a ± std band (the band is omitted at steps that logged no std)."""
    points = downsample(finite_rows(rows, "reward_mean"), ["reward_mean", "reward_std"])
    band_rows = [
        {"step": r["step"], "low": r["reward_mean"] - r["reward_std"], "high": r["reward_mean"] + r["reward_std"]}
        for r in points
        if is_finite(r.get("reward_std"))
    ]
    band = (
        alt.Chart(chart_data(band_rows, ["step", "low", "high"]))
        .mark_area(color=BAND_COLOR, opacity=0.5)
        .encode(x=step_x(), y=alt.Y("low:Q", title="reward"), y2="high:Q")
    )
    line = (
        alt.Chart(chart_data(points, ["step", "reward_mean", "reward_std"]))
        .mark_line(color=LINE_COLOR)
        .encode(
            x=step_x(),
            y=alt.Y("reward_mean:Q", title="reward"),
            tooltip=["step:Q", alt.Tooltip("reward_mean:Q", format=".4g"), alt.Tooltip("reward_std:Q", format=".4g")],
        )
    )
    return alt.layer(band, line, title="Reward mean ± std").properties(width=WIDTH, height=HEIGHT)


def throughput_chart(rows: Sequence[Row]) -> alt.LayerChart:
    """Trajectories/s and simulated years/s: two units, so two y axes, each in its line's colour."""

    def series(field: str, label: str, color: str, orient: str) -> alt.Chart:
        points = downsample(finite_rows(rows, field), [field])
        return (
            alt.Chart(chart_data(points, ["step", field]))
            .mark_line(color=color)
            .encode(
                x=step_x(),
                y=alt.Y(f"{field}:Q", title=label, axis=alt.Axis(orient=orient, titleColor=color)),
                tooltip=["step:Q", alt.Tooltip(f"{field}:Q", format=".3g")],
            )
        )

    return (
        alt.layer(
            series("trajectories_per_s", "trajectories / s", LINE_COLOR, "left"),
            series("sim_years_per_s", "simulated years / s", "#ff7f0e", "right"),
            title="Throughput",
        )
        .resolve_scale(y="independent")
        .properties(width=WIDTH, height=HEIGHT)
    )
