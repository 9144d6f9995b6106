"""Charts of the Elo gap (best checkpoint − base_model) with its 95 % band: one run's, and a sweep's runs.

A band is often many times wider than the gap moves (about ±700 Elo while a new checkpoint has few games,
±100–300 at the end), and drawn whole it flattens the gap line onto the zero line. So the y axis is fitted
to what a reader needs: the gap line, zero, and each run's final band (the one its verdict rests on); the
wider early band is clipped at the plot's edge, drawn faint, and the line goes on top, thick, with its
final value and band written beside its end.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt

from diplo_pipeline.lib.analytics.verdicts import gap_with_band
from diplo_pipeline.lib.reports.charts.common import (
    BAND_COLOR,
    HEIGHT,
    LINE_COLOR,
    WIDTH,
    Row,
    chart_data,
    downsample,
    downsample_by,
    finite_rows,
    is_finite,
    step_x,
)

BAND_FIELDS = ["elo_gap", "elo_gap_ci_low", "elo_gap_ci_high"]
GAP_TITLE = "Elo gap: best checkpoint − base_model (95 % band)"


def gap_domain(rows: Sequence[Row], key: str | None = None) -> list[float]:
    """[low, high] holding every gap, zero and each series' final band (series by `key`), padded 8 %."""
    finals: dict = {}
    for row in rows:
        finals[row.get(key) if key else None] = row  # rows come in step order: the last one stays
    values = [0.0, *(r["elo_gap"] for r in rows if is_finite(r.get("elo_gap")))]
    values += [r[f] for r in finals.values() for f in ("elo_gap_ci_low", "elo_gap_ci_high") if is_finite(r.get(f))]
    low, high = min(values), max(values)
    pad = max((high - low) * 0.08, 5.0)
    return [low - pad, high + pad]


def _zero() -> alt.Chart:
    return alt.Chart(chart_data([{"zero": 0}], ["zero"])).mark_rule(color="#555", strokeDash=[4, 3]).encode(
        y="zero:Q")


def elo_gap_chart(rows: Sequence[Row], width: int = WIDTH) -> alt.LayerChart:
    """One run's gap over steps: the band faint and clipped to the fitted axis, the line on top, zero dashed,
    the final gap and its band written at the line's end."""
    points = downsample(finite_rows(rows, "elo_gap"), BAND_FIELDS)
    scale = alt.Scale(domain=gap_domain(points), nice=False)
    y = alt.Y("elo_gap:Q", title="Elo gap", scale=scale)
    band = (
        alt.Chart(chart_data(finite_rows(points, "elo_gap_ci_low", "elo_gap_ci_high"), ["step", *BAND_FIELDS[1:]]))
        .mark_area(color=BAND_COLOR, opacity=0.35, clip=True)
        .encode(x=step_x(), y=alt.Y("elo_gap_ci_low:Q", title="Elo gap", scale=scale), y2="elo_gap_ci_high:Q")
    )
    line = (
        alt.Chart(chart_data(points, ["step", "best_checkpoint", *BAND_FIELDS]))
        .mark_line(color=LINE_COLOR, strokeWidth=2.5, clip=True)
        .encode(
            x=step_x(), y=y,
            tooltip=[
                "step:Q", "best_checkpoint:N", alt.Tooltip("elo_gap:Q", format=".1f"),
                alt.Tooltip("elo_gap_ci_low:Q", format=".1f"), alt.Tooltip("elo_gap_ci_high:Q", format=".1f"),
            ],
        )
    )
    layers = [band, line, _zero()]
    if points:
        last = points[-1]
        label = [{"step": last["step"], "elo_gap": last["elo_gap"],
                  "text": gap_with_band(last["elo_gap"], last.get("elo_gap_ci_low"), last.get("elo_gap_ci_high"))}]
        layers.append(
            alt.Chart(chart_data(label, ["step", "elo_gap", "text"]))
            .mark_text(align="right", baseline="bottom", dy=-6, color=LINE_COLOR, fontWeight="bold")
            .encode(x=step_x(), y=y, text="text:N")
        )
    return alt.layer(*layers, title=GAP_TITLE).properties(width=width, height=HEIGHT)


def sweep_elo_gap_chart(rows: Sequence[Row]) -> alt.LayerChart:
    """Every run of a sweep: its gap line and, faint in the same colour, its band; the axis fitted to the lines,
    zero and the final bands (the verdict's), wider early bands clipped."""
    points = downsample_by(finite_rows(rows, "elo_gap"), "label", BAND_FIELDS)
    scale = alt.Scale(domain=gap_domain(points, "label"), nice=False)
    color = alt.Color("label:N", title="run", legend=alt.Legend(orient="bottom", direction="vertical",
                                                                labelLimit=WIDTH))
    data = chart_data(points, ["label", "step", *BAND_FIELDS])
    bands = (
        alt.Chart(data)
        .transform_filter("isValid(datum.elo_gap_ci_low) && isValid(datum.elo_gap_ci_high)")
        .mark_area(opacity=0.12, clip=True)
        .encode(x=step_x(), y=alt.Y("elo_gap_ci_low:Q", title="Elo gap", scale=scale), y2="elo_gap_ci_high:Q",
                color=color)
    )
    lines = (
        alt.Chart(data)
        .mark_line(strokeWidth=2.5, clip=True)
        .encode(
            x=step_x(), y=alt.Y("elo_gap:Q", title="Elo gap", scale=scale), color=color,
            tooltip=["label:N", "step:Q", alt.Tooltip("elo_gap:Q", format=".1f"),
                     alt.Tooltip("elo_gap_ci_low:Q", format=".1f"), alt.Tooltip("elo_gap_ci_high:Q", format=".1f")],
        )
    )
    return alt.layer(bands, lines, _zero(), title=GAP_TITLE).properties(width=WIDTH, height=HEIGHT)
