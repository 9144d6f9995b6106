"""Charts of a sweep: one metric for every run of it, and the ranking by final Elo gap."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt

from diplo_pipeline.lib.reports.charts.common import (
    HEIGHT,
    WIDTH,
    Row,
    chart_data,
    downsample_by,
    finite_rows,
    step_x,
    threshold_rule,
)


def sweep_metric_chart(
    rows: Sequence[Row], field: str, title: str, threshold: tuple[float, str] | None = None,
    scale: alt.Scale | None = None,
) -> alt.LayerChart:
    """One metric over steps for every run of a sweep, one colour per run (field `label`); `threshold` is a
    `limit_line`."""
    points = downsample_by(finite_rows(rows, field), "label", [field])
    lines = (
        alt.Chart(chart_data(points, ["label", "step", field]))
        .mark_line()
        .encode(
            x=step_x(),
            y=alt.Y(f"{field}:Q", title=field, scale=scale or alt.Scale(zero=False)),
            # Below the chart, where a run's whole label fits and two charts still sit side by side.
            color=alt.Color("label:N", title="run", legend=alt.Legend(orient="bottom", direction="vertical",
                                                                     labelLimit=WIDTH)),
            tooltip=["label:N", "step:Q", alt.Tooltip(f"{field}:Q", format=".4g")],
        )
    )
    layers = [lines, threshold_rule(*threshold)] if threshold else [lines]
    return alt.layer(*layers, title=title).properties(width=WIDTH, height=HEIGHT)


def sweep_ranking_chart(rows: Sequence[Row]) -> alt.Chart:
    """Final Elo gap per run, best first; the winner in its own colour."""
    bars = [{**r, "role": "winner" if r.get("is_winner") else "other"} for r in finite_rows(rows, "final_elo_gap")]
    return (
        alt.Chart(
            chart_data(bars, ["label", "role", "rank_by_elo_gap", "final_elo_gap"]),
            title="Final Elo gap by run (ranking)",
        )
        .mark_bar()
        .encode(
            y=alt.Y("label:N", title=None, sort=alt.EncodingSortField("rank_by_elo_gap", order="ascending"),
                    axis=alt.Axis(labelLimit=WIDTH // 2)),
            x=alt.X("final_elo_gap:Q", title="final Elo gap"),
            color=alt.Color(
                "role:N", legend=None, scale=alt.Scale(domain=["winner", "other"], range=["#2ca02c", "#9e9e9e"])
            ),
            tooltip=["label:N", "rank_by_elo_gap:Q", alt.Tooltip("final_elo_gap:Q", format=".1f")],
        )
        .properties(width=WIDTH, height=max(60, 28 * len(bars)))
    )
