"""Altair chart builders for the reports, and the spike-keeping downsampler they share.

Every builder takes plain rows (dicts, as the report queries return them) and returns an Altair chart
without top-level configuration, so charts can be composed; `chart_spec` finishes one into the Vega-Lite
dict that pages embed and vl-convert turns into PNG. Thresholds drawn as rule lines are the operating
limits of source-data.md §3.6 (KL 0.1, grad norm 50, extraction 0.95, prefix-cache hit rate 0.5).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import altair as alt
import pyarrow as pa

Row = Mapping[str, Any]

WIDTH, HEIGHT = 470, 170  # two charts side by side in a 1240 px page
WIDE = 1040  # a chart that spans both columns
MAX_POINTS = 600  # per series after downsampling: more than one point per pixel of a chart
THRESHOLD_COLOR = "#c0392b"
BAND_COLOR = "#9ecae1"
LINE_COLOR = "#1f77b4"
STATUS_COLORS = {"completed": "#2ca02c", "failed": "#d62728", "unfinished": "#ff7f0e"}
HEALTH_COLORS = {"healthy": "#2ca02c", "degraded": "#ff7f0e", "unhealthy": "#d62728"}
UTC = alt.Scale(type="utc")  # every timestamp in the warehouse is UTC; show it as such, not as local time


# --- Downsampling -------------------------------------------------------------------------------------


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def extreme_indices(values: Sequence[Any], max_points: int) -> list[int]:
    """Indices that keep the shape of a series in at most ~max_points: per bucket, its min and its max.

    The series is cut into max_points // 2 buckets of consecutive points; each bucket keeps the position of
    its smallest and its largest finite value, so a one-step spike always survives (it is its bucket's
    max). The first and last points are always kept so the x range does not shrink.
    """
    n = len(values)
    if n <= max_points:
        return list(range(n))
    buckets = max(1, max_points // 2)
    keep = {0, n - 1}
    for b in range(buckets):
        start, stop = b * n // buckets, (b + 1) * n // buckets
        finite = [i for i in range(start, stop) if _finite(values[i])]
        if finite:
            keep.add(min(finite, key=values.__getitem__))
            keep.add(max(finite, key=values.__getitem__))
    return sorted(keep)


def downsample(rows: Sequence[Row], fields: Iterable[str], max_points: int = MAX_POINTS) -> list[Row]:
    """The rows (in their order) that hold the min and max of every field per bucket; all rows if few.

    With several fields (a mean and its std, say) the union is kept, so no field loses its extremes.
    """
    if len(rows) <= max_points:
        return list(rows)
    keep: set[int] = set()
    for field in fields:
        keep.update(extreme_indices([row.get(field) for row in rows], max_points))
    return [rows[i] for i in sorted(keep)]


def downsample_by(rows: Sequence[Row], key: str, fields: Iterable[str], max_points: int = MAX_POINTS) -> list[Row]:
    """Downsample each series (rows sharing `key`, e.g. one agent) on its own, keeping their order."""
    fields = list(fields)
    series: dict[Any, list[Row]] = {}
    for row in rows:
        series.setdefault(row.get(key), []).append(row)
    return [row for part in series.values() for row in downsample(part, fields, max_points)]


# --- Building blocks ----------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    """What a chart can hold: timestamps as ISO 8601 (with their UTC offset), NaN and inf as null."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _data(rows: Iterable[Row], fields: Sequence[str]) -> pa.Table:
    """The fields a chart draws, as an Arrow table.

    Not `alt.Data(values=...)`: Altair deep-copies and schema-validates inline values on every method call,
    which made a page of charts take seconds. An Arrow table passes through untouched until `to_dict`
    turns it into a named top-level dataset.
    """
    records = [{f: _json_value(row.get(f)) for f in fields} for row in rows]
    return pa.Table.from_pylist(records) if records else pa.table({f: pa.array([], pa.null()) for f in fields})


def _with(rows: Sequence[Row], *fields: str) -> list[Row]:
    """Rows where every field is a finite number (Vega-Lite cannot draw NaN, and JSON cannot hold it)."""
    return [row for row in rows if all(_finite(row.get(f)) for f in fields)]


def threshold_rule(value: float, label: str) -> alt.LayerChart:
    """A dashed horizontal line at an operating limit, labelled at its right end."""
    base = alt.Chart(_data([{"threshold": value, "label": label}], ["threshold", "label"]))
    rule = base.mark_rule(color=THRESHOLD_COLOR, strokeDash=[5, 4]).encode(y="threshold:Q")
    text = base.mark_text(align="right", baseline="bottom", dx=-2, dy=-2, color=THRESHOLD_COLOR, fontSize=10).encode(
        y="threshold:Q", x=alt.value(WIDTH), text="label:N"
    )
    return rule + text


def _step_x(title: str = "step") -> alt.X:
    return alt.X("step:Q", title=title, axis=alt.Axis(format="d", tickCount=8))


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
    points = downsample(_with(rows, field), [field])
    y = alt.Y(f"{field}:Q", title=y_title or field, scale=scale or alt.Scale(zero=False))
    line = (
        alt.Chart(_data(points, ["step", field]))
        .mark_line(color=color, point=len(points) <= 60)
        .encode(x=_step_x(), y=y, tooltip=["step:Q", alt.Tooltip(f"{field}:Q", format=".4g")])
    )
    layers = [line, threshold_rule(*threshold)] if threshold else [line]
    return alt.layer(*layers, title=title).properties(width=WIDTH, height=HEIGHT)


# --- Run charts ---------------------------------------------------------------------------------------


def loss_chart(rows: Sequence[Row]) -> alt.LayerChart:
    return step_line(rows, "loss", "Loss", "loss")


def kl_chart(rows: Sequence[Row]) -> alt.LayerChart:
    return step_line(rows, "kl", "KL divergence (mean)", "kl", threshold=(0.1, "0.1 warn"))


def grad_norm_chart(rows: Sequence[Row]) -> alt.LayerChart:
    # symlog: a healthy norm of ~3 stays readable next to the 50 limit and a 180 spike.
    return step_line(
        rows, "grad_norm", "Gradient norm (pre-clip)", "grad norm", threshold=(50, "50 limit"),
        scale=alt.Scale(type="symlog"),
    )


def extraction_chart(rows: Sequence[Row]) -> alt.LayerChart:
    return step_line(rows, "extraction_rate", "Order extraction rate", "extraction rate", threshold=(0.95, "0.95 target"))


def cache_hit_chart(rows: Sequence[Row]) -> alt.LayerChart:
    """Per step where the trainer logged it."""
    return step_line(rows, "cache_hit_rate", "Prefix-cache hit rate", "hit rate", threshold=(0.5, "0.5 target"))


def hourly_cache_hit_chart(rows: Sequence[Row]) -> alt.LayerChart:
    """Per hour from the inference engine's counters (Axiom), for runs whose trainer did not log it."""
    points = _with(rows, "hit_rate")
    line = (
        alt.Chart(_data(points, ["hour", "hit_rate", "queries"]), title="Prefix-cache hit rate per hour (Axiom)")
        .mark_line(color=LINE_COLOR, point=True)
        .encode(
            x=alt.X("hour:T", title="hour (UTC)", scale=UTC),
            y=alt.Y("hit_rate:Q", title="hit rate", scale=alt.Scale(zero=False)),
            tooltip=[alt.Tooltip("hour:T", format="%Y-%m-%d %H:00", formatType="utc"),
                     alt.Tooltip("hit_rate:Q", format=".3f"), "queries:Q"],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )
    return line + threshold_rule(0.5, "0.5 target")


def reward_chart(rows: Sequence[Row]) -> alt.LayerChart:
    """Reward mean with a ± std band (the band is omitted at steps that logged no std)."""
    points = downsample(_with(rows, "reward_mean"), ["reward_mean", "reward_std"])
    band_rows = [
        {"step": r["step"], "low": r["reward_mean"] - r["reward_std"], "high": r["reward_mean"] + r["reward_std"]}
        for r in points
        if _finite(r.get("reward_std"))
    ]
    band = (
        alt.Chart(_data(band_rows, ["step", "low", "high"]))
        .mark_area(color=BAND_COLOR, opacity=0.5)
        .encode(x=_step_x(), y=alt.Y("low:Q", title="reward"), y2="high:Q")
    )
    line = (
        alt.Chart(_data(points, ["step", "reward_mean", "reward_std"]))
        .mark_line(color=LINE_COLOR)
        .encode(
            x=_step_x(),
            y=alt.Y("reward_mean:Q", title="reward"),
            tooltip=["step:Q", alt.Tooltip("reward_mean:Q", format=".4g"), alt.Tooltip("reward_std:Q", format=".4g")],
        )
    )
    return alt.layer(band, line, title="Reward mean ± std").properties(width=WIDTH, height=HEIGHT)


def throughput_chart(rows: Sequence[Row]) -> alt.LayerChart:
    """Trajectories/s and simulated years/s: two units, so two y axes, each in its line's colour."""

    def series(field: str, label: str, color: str, orient: str) -> alt.Chart:
        points = downsample(_with(rows, field), [field])
        return (
            alt.Chart(_data(points, ["step", field]))
            .mark_line(color=color)
            .encode(
                x=_step_x(),
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


def failed_rollouts_chart(rows: Sequence[Row]) -> alt.Chart:
    """Rollouts the trainer counted as failed, per step (WandB `rollout/failed_count`)."""
    points = downsample(_with(rows, "rollout_failed_count"), ["rollout_failed_count"])
    return (
        alt.Chart(_data(points, ["step", "rollout_failed_count"]), title="Failed rollouts per step (trainer)")
        .mark_bar(color=STATUS_COLORS["failed"], size=3)
        .encode(
            x=_step_x(),
            y=alt.Y("rollout_failed_count:Q", title="failed rollouts", axis=alt.Axis(tickMinStep=1)),
            tooltip=["step:Q", "rollout_failed_count:Q"],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )


def rollout_status_chart(rows: Sequence[Row]) -> alt.Chart:
    """Sampled rollouts per hour by final status (Axiom), stacked: failures stand out in red."""
    return (
        alt.Chart(_data(rows, ["hour", "status", "rollouts"]), title="Rollouts per hour by status (Axiom sample)")
        .mark_bar()
        .encode(
            x=alt.X("hour:T", timeUnit="utcyearmonthdatehours", title="hour (UTC)"),  # one bar fills its hour
            y=alt.Y("rollouts:Q", title="rollouts"),
            color=_status_color(STATUS_COLORS, "status"),
            tooltip=[alt.Tooltip("hour:T", format="%Y-%m-%d %H:00", formatType="utc"), "status:N", "rollouts:Q"],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )


def _status_color(colors: Mapping[str, str], field: str) -> alt.Color:
    return alt.Color(
        f"{field}:N", title=field, scale=alt.Scale(domain=list(colors), range=list(colors.values()))
    )


RATING_FIELDS = ["step", "agent", "agent_kind", "checkpoint_step", "elo"]


def ratings_chart(rows: Sequence[Row]) -> alt.LayerChart:
    """Every agent's Elo at the steps it was rated (no series is paired with another's steps).

    This run's checkpoints are solid lines shaded by checkpoint step (older = lighter); baselines and other
    runs' checkpoints are dashed, one colour each, so the two kinds can be told apart at a glance.
    """
    points = downsample_by(_with(rows, "elo"), "agent", ["elo"])
    own = [r for r in points if r["agent_kind"] == "checkpoint"]
    others = [r for r in points if r["agent_kind"] != "checkpoint"]
    tooltip = ["agent:N", "agent_kind:N", "step:Q", alt.Tooltip("elo:Q", format=".1f")]
    checkpoints = (
        alt.Chart(_data(own, RATING_FIELDS))
        .mark_line(strokeWidth=1.5)
        .encode(
            x=_step_x(),
            y=alt.Y("elo:Q", title="Elo", scale=alt.Scale(zero=False)),
            detail="agent:N",
            color=alt.Color("checkpoint_step:Q", title="checkpoint step", scale=alt.Scale(scheme="blues")),
            tooltip=tooltip,
        )
    )
    baselines = (
        alt.Chart(_data(others, RATING_FIELDS))
        .mark_line(strokeWidth=2)
        .encode(
            x=_step_x(),
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


def elo_gap_chart(rows: Sequence[Row], width: int = WIDTH) -> alt.LayerChart:
    """Best checkpoint minus base_model, with its 95 % band from the TrueSkill sigmas, and the zero line."""
    points = downsample(_with(rows, "elo_gap"), ["elo_gap", "elo_gap_ci_low", "elo_gap_ci_high"])
    banded = _with(points, "elo_gap_ci_low", "elo_gap_ci_high")
    band = (
        alt.Chart(_data(banded, ["step", "elo_gap_ci_low", "elo_gap_ci_high"]))
        .mark_area(color=BAND_COLOR, opacity=0.45)
        .encode(x=_step_x(), y=alt.Y("elo_gap_ci_low:Q", title="Elo gap"), y2="elo_gap_ci_high:Q")
    )
    line = (
        alt.Chart(_data(points, ["step", "best_checkpoint", "elo_gap", "elo_gap_ci_low", "elo_gap_ci_high"]))
        .mark_line(color=LINE_COLOR)
        .encode(
            x=_step_x(),
            y=alt.Y("elo_gap:Q", title="Elo gap"),
            tooltip=[
                "step:Q", "best_checkpoint:N", alt.Tooltip("elo_gap:Q", format=".1f"),
                alt.Tooltip("elo_gap_ci_low:Q", format=".1f"), alt.Tooltip("elo_gap_ci_high:Q", format=".1f"),
            ],
        )
    )
    zero = alt.Chart(_data([{"zero": 0}], ["zero"])).mark_rule(color="#555").encode(y="zero:Q")
    return alt.layer(band, line, zero, title="Elo gap: best checkpoint − base_model (95 % band)").properties(
        width=width, height=HEIGHT
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
        if _finite(y) and y > 0:  # a log axis cannot show y <= 0
            curve.append({"x": x, "y": y, "model": model})
    return curve


def power_law_chart(points: Sequence[Row], fits: Sequence[Row], title: str) -> alt.LayerChart:
    """Data points (x, y, series) and fitted curves (rows with model and params) on log–log axes."""
    positive = [p for p in _with(points, "x", "y") if p["x"] > 0 and p["y"] > 0]
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
        alt.Chart(_data(shown, ["series", "x", "y"]))
        .mark_circle(size=14, opacity=0.6)
        .encode(
            x=x, y=y, color=alt.Color("series:N", title="run", legend=alt.Legend(labelLimit=320)),
            tooltip=["series:N", "x:Q", "y:Q"],
        )
    )
    lines = (
        alt.Chart(_data(curves, ["model", "x", "y"]))
        .mark_line(color="#333")
        .encode(
            x=x, y=y,
            strokeDash=alt.StrokeDash("model:N", title="fit"),
            tooltip=["model:N", alt.Tooltip("x:Q", format=".3g"), alt.Tooltip("y:Q", format=".3g")],
        )
    )
    return alt.layer(dots, lines, title=title).properties(width=WIDTH, height=220)


# --- Sweeps and nightly -------------------------------------------------------------------------------


def sweep_metric_chart(
    rows: Sequence[Row], field: str, title: str, threshold: tuple[float, str] | None = None,
    scale: alt.Scale | None = None,
) -> alt.LayerChart:
    """One metric over steps for every run of a sweep, one colour per run (field `label`)."""
    points = downsample_by(_with(rows, field), "label", [field])
    lines = (
        alt.Chart(_data(points, ["label", "step", field]))
        .mark_line()
        .encode(
            x=_step_x(),
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
    bars = [{**r, "role": "winner" if r.get("is_winner") else "other"} for r in _with(rows, "final_elo_gap")]
    return (
        alt.Chart(_data(bars, ["label", "role", "rank_by_elo_gap", "final_elo_gap"]), title="Final Elo gap by run (ranking)")
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


def health_chart(rows: Sequence[Row]) -> alt.LayerChart:
    """Events per hour coloured by the hour's health status, with the error rate on a second axis.

    The error-rate axis starts at 0 and reaches at least 5 % (unhealthy), so clean hours lie on the floor
    instead of in the middle of an empty scale.
    """
    worst = max((r["error_rate"] for r in _with(rows, "error_rate")), default=0.0)
    bars = (
        alt.Chart(_data(rows, ["hour", "status", "events", "error_events", "error_rate"]))
        .mark_bar(opacity=0.8)
        .encode(
            x=alt.X("hour:T", timeUnit="utcyearmonthdatehours", title="hour (UTC)"),
            y=alt.Y("events:Q", title="events"),
            color=_status_color(HEALTH_COLORS, "status"),
            tooltip=[
                alt.Tooltip("hour:T", format="%Y-%m-%d %H:00", formatType="utc"), "status:N", "events:Q",
                "error_events:Q", alt.Tooltip("error_rate:Q", format=".2%"),
            ],
        )
    )
    errors = (
        alt.Chart(_data(_with(rows, "error_rate"), ["hour", "error_rate"]))
        .mark_line(color="#333", point=True)
        .encode(
            x=alt.X("hour:T", timeUnit="utcyearmonthdatehours", bandPosition=0.5),
            y=alt.Y("error_rate:Q", title="error rate", axis=alt.Axis(orient="right", format="%"),
                    scale=alt.Scale(domain=[0, max(0.05, worst)])),
        )
    )
    return (
        alt.layer(bars, errors, title="Pipeline health per hour")
        .resolve_scale(y="independent")
        .properties(width=WIDE - 160, height=HEIGHT)
    )


# --- Finishing --------------------------------------------------------------------------------------


def chart_spec(chart: alt.TopLevelMixin, validate: bool = False) -> dict:
    """The Vega-Lite spec of a finished chart: one look for every page; no $schema URL (nothing to fetch).

    Schema validation is off by default because it walks every data value (seconds per page); the tests
    validate every builder's spec, and the browser test renders a real page.
    """
    spec = (
        chart.configure_view(stroke=None)
        .configure_axis(labelFontSize=11, titleFontSize=11, gridColor="#eceff1")
        .configure_title(fontSize=13, anchor="start", fontWeight="bold")
        .configure_legend(labelFontSize=11, titleFontSize=11)
        .to_dict(validate=validate)
    )
    spec.pop("$schema", None)
    return spec
