"""`sweeps/<sweep_name>.html`: the runs of one sweep side by side (analyze_sweep.py's Elo and stability tables),
its three rankings, the verdict with the bands it rests on, what varied."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import altair as alt

from diplo_pipeline.lib.analytics.verdicts import (
    VERDICT_WORDS,
    learning_signal_text,
    rankings,
    sweep_verdict_text,
)
from diplo_pipeline.lib.reports import charts
from diplo_pipeline.lib.reports import html as h
from diplo_pipeline.lib.reports.data import Warehouse, parse_json, sweep_fits
from diplo_pipeline.lib.reports.names import run_page_names, sweep_page_names
from diplo_pipeline.lib.reports.output import PagesWritten, inputs_digest
from diplo_pipeline.lib.reports.page_inputs import PartitionFingerprints, RunLoader, rows_fingerprints, same_warehouse
from diplo_pipeline.lib.reports.shared import fits_html
from diplo_pipeline.lib.reports.text import MISSING, fmt, fmt_gap
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
    letters = {m["run_name"]: m["sweep_run_letter"] for m in data.members}
    unstable = sweep.get("unstable_runs") or []
    cards = h.cards([
        ("verdict", VERDICT_WORDS.get(verdict, MISSING) if verdict else MISSING,
         {"clear_winner": "ok", "likely_winner": "info"}.get(verdict or "", "warn")),
        ("winner", sweep.get("winner_run_name"), "info"),
        ("winner's final Elo gap [95 % band]", fmt_gap(sweep.get("winner_elo_gap"), sweep.get("winner_elo_gap_ci_low"),
                                                       sweep.get("winner_elo_gap_ci_high")), ""),
        ("runner-up's final Elo gap [95 % band]", fmt_gap(sweep.get("runner_up_elo_gap"),
                                                          sweep.get("runner_up_elo_gap_ci_low"),
                                                          sweep.get("runner_up_elo_gap_ci_high")), ""),
        ("margin over the runner-up [95 % band]", fmt_gap(sweep.get("margin"), sweep.get("margin_ci_low"),
                                                           sweep.get("margin_ci_high")), ""),
        ("runs finished", f"{fmt(sweep.get('runs_finished'))} of {fmt(sweep.get('runs'))}", ""),
        (f"unstable (KL max > {limit('kl_max_limit'):g})", ", ".join(unstable) or "none", "bad" if unstable else "ok"),
        ("expected ranking met", sweep.get("expected_ranking_met"),
         {True: "ok", False: "bad"}.get(sweep.get("expected_ranking_met"), "")),
    ])
    hypothesis = sweep.get("hypothesis")
    rows = [{"criterion": k, "met": v} for k, v in criteria.items()]
    rows += [{"criterion": c, "met": "not machine-checkable"} for c in sweep.get("success_criteria_unchecked") or []]
    return (
        cards
        + h.paragraph(f"<b>Verdict.</b> {escape(sweep_verdict_text(sweep, letters) or MISSING)}.")
        + (h.paragraph(f"<b>Hypothesis.</b> {escape(hypothesis)}") if hypothesis else h.note("No hypothesis recorded."))
        + h.paragraph(
            f"Ranking by final Elo gap: {escape(fmt(sweep.get('ranking')))}; expected: "
            f"{escape(fmt(sweep.get('expected_ranking')))}. A clear winner beats the runner-up by more than "
            f"{limit('sweep_clear_margin'):g} Elo and the two final gaps' 95 % bands do not overlap; a margin that "
            "large with overlapping bands is a likely winner, a smaller one a close race. The margin's own band "
            "combines the two half-widths (root sum of squares: the runs' leagues are independent)."
        )
        + h.table(rows, [("success criterion", "criterion"), ("met", "met")], empty="No success criteria defined.")
    )


def _run_link(row: dict[str, Any]) -> str:
    return h.link(f"../runs/{row['page']}.html", row["run_name"]) if row.get("page") else escape(row["run_name"])


def _gap_cell(prefix: str) -> h.Cell:
    return lambda row: escape(fmt_gap(row.get(f"{prefix}_elo_gap"), row.get(f"{prefix}_elo_gap_ci_low"),
                                      row.get(f"{prefix}_elo_gap_ci_high")))


def _ranking_html(page: h.Page, data: SweepData) -> str:
    """analyze_sweep's first table: every fixed reference's final Elo, the best checkpoint and the gap."""
    table = h.table(data.members, [
        ("rank", "rank_by_elo_gap"), ("run", "sweep_run_letter"), ("name", _run_link), ("state", "state"),
        ("steps", "steps"), ("base_model", "final_base_model_elo"), ("chaos", "final_chaos_bot_elo"),
        ("defensive", "final_defensive_bot_elo"), ("territorial", "final_territorial_bot_elo"),
        ("coordinated", "final_coordinated_bot_elo"), ("dumb", "final_dumb_bot_elo"),
        ("random", "final_random_bot_elo"), ("best checkpoint", "best_checkpoint"),
        ("its Elo", "best_checkpoint_elo"), ("final Elo gap [95 % band]", _gap_cell("final")),
        ("max Elo gap [95 % band]", _gap_cell("max")),
        ("learning signal", lambda row: escape(learning_signal_text(row) or MISSING)),
    ])
    chart = page.chart("ranking", charts.sweep_ranking_chart(data.members)) if data.members else ""
    return chart + h.note("Final Elo of every fixed reference (lower: the league beats it more; — where not "
                          "rated).") + table


def _stability_html(data: SweepData) -> str:
    """analyze_sweep's second table, as run-wide aggregates (the true KL max, not the last step's)."""
    return h.table(data.members, [
        ("run", "sweep_run_letter"), ("KL mean", "kl_mean_avg"), ("KL max", "kl_max_max"),
        ("grad norm max", "grad_norm_max"), ("supply centers (last 10)", "avg_sc_count_last10"),
        ("win bonus (last 10)", "win_bonus_rate_last10"), ("top 3 (last 10)", "top3_rate_last10"),
        ("reward (last 10)", "reward_mean_last10"),
        (f"unstable (KL max > {limit('kl_max_limit'):g})", "unstable"),
    ])


def _rankings_html(data: SweepData) -> str:
    letters = {m["run_name"]: m["sweep_run_letter"] for m in data.members}
    return h.note("Each ranking with the number it ranks by: the final Elo gap (highest first, with its band), "
                  "base_model's final Elo (lowest first: the league beats it most) and the fixed references' "
                  "total drop, initial − final (largest first).") + h.table(rankings(data.members, letters), [
        ("place", "place"), ("by Elo gap", "by_elo_gap"), ("by base_model Elo", "by_base_model_elo"),
        ("by fixed-reference drop", "by_reference_drop"),
    ])


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
        (data.steps, "reward_mean", "Reward mean", None, None),
        (data.steps, "kl", "KL divergence (mean)", charts.limit_line("kl_warn", "warn"), None),
        (data.steps, "kl_max", "KL max", charts.limit_line("kl_max_limit", "unstable"), alt.Scale(type="symlog")),
        (data.steps, "grad_norm", "Gradient norm", charts.limit_line("grad_norm_max", "limit"),
         alt.Scale(type="symlog")),
    ]
    gap = ([page.chart("sweep elo_gap", charts.sweep_elo_gap_chart(data.gap))]
           if any(r.get("elo_gap") is not None for r in data.gap) else [])
    return h.grid(*gap, *(
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
    page.section("Stability and outcomes", _stability_html(data))
    page.section("Rankings", _rankings_html(data))
    page.section("Varying parameters", _varying_html(data))
    page.section("Side by side", _side_by_side_html(page, data))
    if data.fits:
        page.section("Scaling", fits_html(page, wh, data.fits))
    return page.render()


def _sweep_inputs(
    wh: Warehouse, sweep: dict[str, Any], pages: dict[str, str], partitions: PartitionFingerprints
) -> tuple[str, list[str]]:
    """A sweep page's inputs fingerprint, read from the one-row-a-run tables only (the sweep, its members'
    rows of sweep_runs, its fits), with the fingerprints of the partitions of every run it draws; and those
    runs."""
    name = sweep["sweep_name"]
    members = wh.rows("sweep_runs", needs=("sweep_runs",), sweep_name=name)
    fits = sweep_fits(wh, name)
    drawn = sorted({m["run_id"] for m in members} | {r for fit in fits for r in fit.get("run_ids") or []})
    held = partitions(drawn)
    digest = inputs_digest([wh.has("power_law_fits"), sweep, members, fits, [pages.get(r) for r in drawn],
                            [held[r] for r in drawn]])
    return digest, drawn


def render_sweep_reports(
    wh: Warehouse, reports_dir: Path, partitions: PartitionFingerprints | None = None, load: RunLoader | None = None
) -> PagesWritten:
    """Every sweep's page. A page whose inputs are unchanged (`_sweep_inputs`) is neither read nor rendered; a
    changed one reads its runs' rows through `load` (see lib/reports/page_inputs.py)."""
    folder = reports_dir / "sweeps"
    out = PagesWritten(folder)
    partitions, load = partitions or rows_fingerprints(wh), load or same_warehouse(wh)
    pages = run_page_names(wh.rows("runs", needs=("runs",)))
    sweeps = wh.rows("sweeps", needs=("sweeps",))
    sweep_pages = sweep_page_names(s["sweep_name"] for s in sweeps)
    for sweep in sweeps:
        path = folder / f"{sweep_pages[sweep['sweep_name']]}.html"
        digest, drawn = _sweep_inputs(wh, sweep, pages, partitions)
        if not out.is_current(path, digest):
            with load(drawn) as runs_wh:
                out.put(path, sweep_html(runs_wh, load_sweep(runs_wh, sweep, pages), digest))
    if wh.has("sweeps"):  # a missing table says nothing about which sweeps exist: keep their pages then
        out.remove_stale(folder, (".html",))
    return out
