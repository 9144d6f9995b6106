"""Charts of a sweep: one metric for every run of it, and the ranking by final Elo gap with its bands."""

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


def sweep_ranking_chart(rows: Sequence[Row]) -> alt.LayerChart:
    """Final Elo gap per run, best first, the winner in its own colour, each with its 95 % band as a whisker
    (a bar's length alone would claim more than the league knows) and the zero line."""
    bars = [{**r, "role": "winner" if r.get("is_winner") else "other"} for r in finite_rows(rows, "final_elo_gap")]
    fields = ["label", "role", "rank_by_elo_gap", "final_elo_gap", "final_elo_gap_ci_low", "final_elo_gap_ci_high"]
    # The order spelled out: a sort by field is not shared across the layers (each would sort its own rows).
    order = [r["label"] for r in sorted(bars, key=lambda r: (r.get("rank_by_elo_gap") or 0, str(r["label"])))]
    y = alt.Y("label:N", title=None, sort=order, axis=alt.Axis(labelLimit=WIDTH // 2))
    tooltip = ["label:N", "rank_by_elo_gap:Q",
               *(alt.Tooltip(f"{field}:Q", format=".1f") for field in fields[3:])]
    bar = (
        alt.Chart(chart_data(bars, fields))
        .mark_bar(opacity=0.8)
        .encode(
            y=y,
            x=alt.X("final_elo_gap:Q", title="final Elo gap (95 % band)"),
            color=alt.Color(
                "role:N", legend=None, scale=alt.Scale(domain=["winner", "other"], range=["#2ca02c", "#9e9e9e"])
            ),
            tooltip=tooltip,
        )
    )
    banded = finite_rows(bars, "final_elo_gap_ci_low", "final_elo_gap_ci_high")
    whisker = (
        alt.Chart(chart_data(banded, fields))
        .mark_rule(color="#333", strokeWidth=1.5)
        .encode(y=y, x="final_elo_gap_ci_low:Q", x2="final_elo_gap_ci_high:Q", tooltip=tooltip)
    )
    ends = [
        alt.Chart(chart_data(banded, fields)).mark_tick(color="#333", thickness=1.5, size=12).encode(y=y, x=f"{end}:Q")
        for end in ("final_elo_gap_ci_low", "final_elo_gap_ci_high")
    ]
    zero = alt.Chart(chart_data([{"zero": 0}], ["zero"])).mark_rule(color="#555", strokeDash=[4, 3]).encode(x="zero:Q")
    return alt.layer(bar, whisker, *ends, zero, title="Final Elo gap by run (ranking, 95 % band)").properties(
        width=WIDTH, height=max(60, 28 * len(bars))
    )
