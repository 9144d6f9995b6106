"""`sweeps/<sweep_name>.html`: the runs of one sweep side by side, their ranking, the verdict, what varied."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from html import escape
from pathlib import Path
from typing import Any

import altair as alt

from diplo_pipeline.lib.reports import charts
from diplo_pipeline.lib.reports import html as h
from diplo_pipeline.lib.reports.data import Warehouse, parse_json, sweep_fits
from diplo_pipeline.lib.reports.names import run_page_names, sweep_page_names
from diplo_pipeline.lib.reports.output import PagesWritten, inputs_digest
from diplo_pipeline.lib.reports.shared import fits_html
from diplo_pipeline.lib.reports.text import MISSING, fmt
from diplo_pipeline.lib.warehouse.thresholds import limit


@dataclass
class SweepData:
    sweep: dict[str, Any]
    members: list[dict[str, Any]]  # sweep_runs, best first, each with `label` and `page`
    steps: list[dict[str, Any]]  # run_steps of every member, with its `label`
    gap: list[dict[str, Any]]  # elo_gap of every member, with its `label`
    fits: list[dict[str, Any]]


def _label(member: dict[str, Any]) -> str:
    """`C: kl_beta=0.02, learning_rate=1e-05`: the run letter and what it changed, as the legend shows it."""
    varying = member["varying_params"] or {}
    settings = ", ".join(f"{k}={fmt(v)}" for k, v in sorted(varying.items()))
    return f"{member.get('sweep_run_letter') or '?'}: {settings}" if settings else str(member.get("sweep_run_letter"))


def load_sweep(wh: Warehouse, sweep: dict[str, Any], pages: dict[str, str]) -> SweepData:
    name = sweep["sweep_name"]
    members = wh.rows("sweep_runs", needs=("sweep_runs",), sweep_name=name)
    for member in members:
        member["varying_params"] = parse_json(member.get("varying_params"))
        member["label"] = _label(member)
        member["page"] = pages.get(member["run_id"])
    labels = {m["run_id"]: m["label"] for m in members}
    run_ids = list(labels)
    steps = wh.rows("sweep_steps", needs=("run_steps",), run_ids=run_ids)
    gap = wh.rows("sweep_elo_gap", needs=("elo_gap",), run_ids=run_ids)
    for row in steps + gap:
        row["label"] = labels[row["run_id"]]
    fits = sweep_fits(wh, name)
    return SweepData(sweep, members, steps, gap, fits)


def _verdict_html(data: SweepData) -> str:
    sweep = data.sweep
    verdict = sweep.get("verdict")
    criteria = parse_json(sweep.get("success_criteria_met")) or {}
    cards = h.cards([
        ("verdict", (verdict or MISSING).replace("_", " "), "ok" if verdict == "clear_winner" else "warn"),
        ("winner", sweep.get("winner_run_name"), "info"),
        ("winner's final Elo gap", sweep.get("winner_elo_gap"), ""),
        ("margin over the runner-up", sweep.get("margin"), ""),
        ("runs finished", f"{fmt(sweep.get('runs_finished'))} of {fmt(sweep.get('runs'))}", ""),
        ("expected ranking met", sweep.get("expected_ranking_met"),
         {True: "ok", False: "bad"}.get(sweep.get("expected_ranking_met"), "")),
    ])
    hypothesis = sweep.get("hypothesis")
    rows = [{"criterion": k, "met": v} for k, v in criteria.items()]
    rows += [{"criterion": c, "met": "not machine-checkable"} for c in sweep.get("success_criteria_unchecked") or []]
    return (
        cards
        + (h.paragraph(f"<b>Hypothesis.</b> {escape(hypothesis)}") if hypothesis else h.note("No hypothesis recorded."))
        + h.paragraph(
            f"Ranking by final Elo gap: {escape(fmt(sweep.get('ranking')))}; expected: "
            f"{escape(fmt(sweep.get('expected_ranking')))}. A clear winner beats the runner-up by more than "
            f"{limit('sweep_clear_margin'):g} Elo."
        )
        + h.table(rows, [("success criterion", "criterion"), ("met", "met")], empty="No success criteria defined.")
    )


def _ranking_html(page: h.Page, data: SweepData) -> str:
    def run_link(row: dict[str, Any]) -> str:
        return h.link(f"../runs/{row['page']}.html", row["run_name"]) if row.get("page") else escape(row["run_name"])

    table = h.table(data.members, [
        ("rank", "rank_by_elo_gap"), ("run", "sweep_run_letter"), ("name", run_link), ("state", "state"),
        ("steps", "steps"), ("final Elo gap", "final_elo_gap"), ("max Elo gap", "max_elo_gap"),
        ("base_model final", "final_base_model_elo"), ("reward (last 10)", "reward_mean_last10"),
        ("KL mean", "kl_mean_avg"), ("KL max", "kl_max_max"), ("grad norm max", "grad_norm_max"),
        (f"unstable (KL max > {limit('kl_max_limit'):g})", "unstable"),
    ])
    chart = page.chart("ranking", charts.sweep_ranking_chart(data.members)) if data.members else ""
    return chart + table


def _varying_html(data: SweepData) -> str:
    params = sorted({k for m in data.members for k in (m["varying_params"] or {})})
    rows = [{"parameter": p, **{m["sweep_run_letter"]: (m["varying_params"] or {}).get(p) for m in data.members}}
            for p in params]
    columns = [("parameter", "parameter")] + [(m["sweep_run_letter"], m["sweep_run_letter"]) for m in data.members]
    return h.note("Config keys whose values differ between the sweep's runs.") + h.table(
        rows, columns, empty="No parameter differs between the runs (or their configs are missing)."
    )


def _side_by_side_html(page: h.Page, data: SweepData) -> str:
    figures = [
        (data.gap, "elo_gap", "Elo gap: best checkpoint − base_model", None, None),
        (data.steps, "reward_mean", "Reward mean", None, None),
        (data.steps, "kl", "KL divergence (mean)", charts.limit_line("kl_warn", "warn"), None),
        (data.steps, "kl_max", "KL max", charts.limit_line("kl_max_limit", "unstable"), alt.Scale(type="symlog")),
        (data.steps, "grad_norm", "Gradient norm", charts.limit_line("grad_norm_max", "limit"),
         alt.Scale(type="symlog")),
    ]
    return h.grid(*(
        page.chart(f"sweep {field}", charts.sweep_metric_chart(rows, field, title, threshold, scale))
        for rows, field, title, threshold, scale in figures
        if any(r.get(field) is not None for r in rows)
    ))


def sweep_html(wh: Warehouse, data: SweepData, digest: str = "") -> str:
    name = data.sweep["sweep_name"]
    page = h.Page(f"Sweep {name}", f"{len(data.members)} runs · " + h.link("../tracker.md", "experiment tracker"),
                  digest)
    page.section("Verdict", _verdict_html(data))
    page.section("Ranking", _ranking_html(page, data))
    page.section("Varying parameters", _varying_html(data))
    page.section("Side by side", _side_by_side_html(page, data))
    if data.fits:
        page.section("Scaling", fits_html(page, wh, data.fits))
    return page.render()


def render_sweep_reports(wh: Warehouse, reports_dir: Path) -> PagesWritten:
    folder = reports_dir / "sweeps"
    out = PagesWritten(folder)
    pages = run_page_names(wh.rows("runs", needs=("runs",)))
    sweeps = wh.rows("sweeps", needs=("sweeps",))
    sweep_pages = sweep_page_names(s["sweep_name"] for s in sweeps)
    for sweep in sweeps:
        data = load_sweep(wh, sweep, pages)
        path = folder / f"{sweep_pages[sweep['sweep_name']]}.html"
        digest = inputs_digest([wh.has("power_law_fits"), asdict(data)])
        if not out.is_current(path, digest):
            out.put(path, sweep_html(wh, data, digest))
    if wh.has("sweeps"):  # a missing table says nothing about which sweeps exist: keep their pages then
        out.remove_stale(folder, (".html",))
    return out
