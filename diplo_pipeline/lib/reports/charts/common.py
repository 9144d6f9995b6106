"""What every chart shares: sizes and colours, the spike-keeping downsampler, the data a chart holds, the
reference line at a limit, and the finishing into the Vega-Lite spec that pages embed.

Every builder (in the modules beside this one) takes plain rows (dicts, as the report queries return them)
and returns an Altair chart without top-level configuration, so charts can be composed; `chart_spec`
finishes one into the Vega-Lite dict that pages embed and vl-convert turns into PNG. Reference lines are
the operating limits of `dbt_like_sql/thresholds.yml` (`limit_line`), read when the chart is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import altair as alt
import pyarrow as pa

from diplo_pipeline.lib.warehouse.thresholds import limit

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


def is_finite(value: Any) -> bool:
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
        finite = [i for i in range(start, stop) if is_finite(values[i])]
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


def chart_data(rows: Iterable[Row], fields: Sequence[str]) -> pa.Table:
    """The fields a chart draws, as an Arrow table.

    Not `alt.Data(values=...)`: Altair deep-copies and schema-validates inline values on every method call,
    which made a page of charts take seconds. An Arrow table passes through untouched until `to_dict`
    turns it into a named top-level dataset.
    """
    records = [{f: _json_value(row.get(f)) for f in fields} for row in rows]
    return pa.Table.from_pylist(records) if records else pa.table({f: pa.array([], pa.null()) for f in fields})


def finite_rows(rows: Sequence[Row], *fields: str) -> list[Row]:
    """Rows where every field is a finite number (Vega-Lite cannot draw NaN, and JSON cannot hold it)."""
    return [row for row in rows if all(is_finite(row.get(f)) for f in fields)]


def limit_line(name: str, verdict: str) -> tuple[float, str]:
    """A limit of thresholds.yml as a reference line: its value, and a label that shows it (`0.1 warn`).

    thresholds.yml writes whole limits as whole numbers (`50`) and the loader reads every limit as a float;
    drawn as written, the spec holds 50 rather than 50.0.
    """
    value = limit(name)
    shown = int(value) if value.is_integer() else value
    return shown, f"{shown:g} {verdict}"


def threshold_rule(value: float, label: str) -> alt.LayerChart:
    """A dashed horizontal line at an operating limit, labelled at its right end."""
    base = alt.Chart(chart_data([{"threshold": value, "label": label}], ["threshold", "label"]))
    rule = base.mark_rule(color=THRESHOLD_COLOR, strokeDash=[5, 4]).encode(y="threshold:Q")
    text = base.mark_text(align="right", baseline="bottom", dx=-2, dy=-2, color=THRESHOLD_COLOR, fontSize=10).encode(
        y="threshold:Q", x=alt.value(WIDTH), text="label:N"
    )
    return rule + text


def step_x(title: str = "step") -> alt.X:
    return alt.X("step:Q", title=title, axis=alt.Axis(format="d", tickCount=8))


def status_color(colors: Mapping[str, str], field: str) -> alt.Color:
    return alt.Color(
        f"{field}:N", title=field, scale=alt.Scale(domain=list(colors), range=list(colors.values()))
    )


# --- Finishing --------------------------------------------------------------------------------------


# One look for every page: Vega-Lite `config`, merged over the theme's after `to_dict`. Altair's configure_*
# methods would each deep-copy the chart with its inline data (half the time of a page's charts).
LOOK = {
    "view": {"stroke": None},
    "axis": {"gridColor": "#eceff1", "labelFontSize": 11, "titleFontSize": 11},
    "legend": {"labelFontSize": 11, "titleFontSize": 11},
    "title": {"anchor": "start", "fontSize": 13, "fontWeight": "bold"},
}


def chart_spec(chart: alt.TopLevelMixin, validate: bool = False) -> dict:
    """The Vega-Lite spec of a finished chart: one look for every page; no $schema URL (nothing to fetch).

    Schema validation is off by default because it walks every data value (seconds per page); the tests
    validate every builder's spec, and the browser test renders a real page.
    """
    spec = chart.to_dict(validate=validate)
    config = spec.setdefault("config", {})
    for section, settings in LOOK.items():
        config[section] = {**config.get(section, {}), **settings}
    if validate:
        alt.Config.from_dict(config)  # the look too
    spec.pop("$schema", None)
    return spec
