"""Report parts used by more than one page: findings, and power-law fits with the points behind them."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from diplo_pipeline.lib.reports import charts
from diplo_pipeline.lib.reports import html as h
from diplo_pipeline.lib.reports.data import DEFAULT_METRIC, DEFAULT_X_METRIC, Warehouse, fit_points
from diplo_pipeline.lib.reports.markdown import md_table, md_text
from diplo_pipeline.lib.reports.text import fmt, fmt_steps

NOT_BUILT = "The {} table has not been built yet; this section fills in once it is."


# --- Findings ----------------------------------------------------------------------------------------


def findings_html(
    wh: Warehouse, findings: list[dict[str, Any]], run_link: Callable[[dict[str, Any]], str] | None = None
) -> str:
    """Findings, worst first; `run_link` adds a column linking each to its run's page."""
    if not wh.has("findings"):
        return h.note(NOT_BUILT.format("findings"))
    columns: list = [("severity", h.severity), ("rule", "rule"), ("steps", _steps)]
    if run_link:
        columns.insert(1, ("run", run_link))
    columns += [("value", "value"), ("threshold", "threshold"), ("what happened", "message"),
                ("likely cause and usual fix", "hypothesis")]
    return h.table(findings, columns, empty="No findings: nothing an experienced researcher would flag.")


def findings_md(wh: Warehouse, findings: list[dict[str, Any]]) -> str:
    if not wh.has("findings"):
        return f"_{NOT_BUILT.format('findings')}_"
    return md_table(
        findings,
        [("severity", "severity"), ("rule", "rule"), ("steps", lambda r: fmt_steps(r["step_start"], r["step_end"])),
         ("value", "value"), ("threshold", "threshold"), ("what happened", "message"),
         ("likely cause and usual fix", "hypothesis")],
        empty="_No findings._",
    )


def _steps(row: dict[str, Any]) -> str:
    return escape(fmt_steps(row.get("step_start"), row.get("step_end")))


# --- Power-law fits ----------------------------------------------------------------------------------


def _fit_groups(fits: list[dict[str, Any]]) -> dict[tuple, list[dict[str, Any]]]:
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for fit in fits:
        key = (fit["scope"], fit["scope_id"], fit.get("x_metric") or DEFAULT_X_METRIC,
               fit.get("metric") or DEFAULT_METRIC)
        groups.setdefault(key, []).append(fit)
    return groups


def _fit_columns(as_html: bool) -> list:
    def band(row: dict[str, Any]) -> str:
        text = f"[{fmt(row.get('exponent_ci_low'))}, {fmt(row.get('exponent_ci_high'))}]"
        return escape(text) if as_html else md_text(text)

    return [
        ("scope", "scope"), ("of", "scope_id"), ("model", "model"), ("exponent", "exponent"), ("95 % CI", band),
        ("R²", "r2"), ("points", "n_points"), ("decades of x", "x_decades"), ("converged", "converged"),
        ("held-out log error", "holdout_log_error"), ("flags", "flags"),
    ]


def fits_html(page: h.Page, wh: Warehouse, fits: list[dict[str, Any]]) -> str:
    """The fits table, then one log–log chart per fitted scope with its data points and curves."""
    figures = []
    for (scope, scope_id, x_metric, metric), group in _fit_groups(fits).items():
        points = fit_points(wh, group[0].get("run_ids") or [], x_metric, metric)
        title = f"Power-law fits: {scope} {scope_id}"
        figures.append(page.chart(f"fit {scope} {scope_id} {metric}", charts.power_law_chart(points, group, title)))
        dropped = sum(1 for p in points if p["y"] <= 0)
        if dropped:
            figures.append(h.note(f"{dropped} points of {scope} {scope_id} are ≤ 0 and cannot be shown on a log axis."))
    return (
        h.note(f"y = {DEFAULT_METRIC}, x = {DEFAULT_X_METRIC} unless the table says otherwise.")
        + h.table(fits, _fit_columns(as_html=True))
        + h.grid(*figures)
    )


def fits_md(fits: list[dict[str, Any]]) -> str:
    return md_table(fits, _fit_columns(as_html=False))
