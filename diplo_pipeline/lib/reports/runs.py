"""`runs/<run_name>.html` and `.md`: the full analysis of one run; `runs/<run_name>.png`: its key chart."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC
from html import escape
from pathlib import Path
from typing import Any

import altair as alt
import vl_convert

from diplo_pipeline.lib.reports import charts
from diplo_pipeline.lib.reports import html as h
from diplo_pipeline.lib.reports.data import Warehouse, parse_json
from diplo_pipeline.lib.reports.markdown import code_block, md_code, md_table, md_text
from diplo_pipeline.lib.reports.names import run_page_names, run_report_files, sweep_page_names
from diplo_pipeline.lib.reports.output import PagesWritten, inputs_digest
from diplo_pipeline.lib.reports.shared import (
    findings_for,
    findings_html,
    findings_md,
    fits_html,
    fits_md,
    fits_where,
)
from diplo_pipeline.lib.reports.text import MISSING, fmt, fmt_duration, fmt_gap, fmt_time

CONFIG_FIELDS = (
    "base_model_id", "lora_rank", "learning_rate", "kl_beta", "loss_type", "total_steps", "num_groups_per_step",
    "samples_per_group", "rollout_horizon_years",
)
# run_steps columns summarised in the metric table, in reading order.
STEP_METRICS = (
    "loss", "kl", "kl_max", "reward_mean", "reward_std", "grad_norm", "trajectories_per_s", "sim_years_per_s",
    "rollout_time_s", "training_time_s", "extraction_rate", "rollout_failed_count", "cache_hit_rate",
)
PNG_SCALE = 1.0  # the key chart as the Dagster UI shows it: legible at its natural size, small to embed


@dataclass
class RunData:
    """Everything one run's report shows, read once so the HTML and the Markdown agree."""

    run: dict[str, Any]
    steps: list[dict[str, Any]]
    learning: dict[str, Any] | None
    ratings: list[dict[str, Any]]
    gap: list[dict[str, Any]]
    agents: list[dict[str, Any]]
    evaluations: list[dict[str, Any]]
    rollout_hours: list[dict[str, Any]]
    rollout_status: list[dict[str, Any]]
    extraction_by_power: list[dict[str, Any]]
    cache_hours: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    fits: list[dict[str, Any]]  # every fit this run's points went into: its own, its tags', its sweep's
    page: str  # file name of the run's report, without suffix
    sweep_page: str | None = None  # file name of its sweep's report, when that sweep has one

    @property
    def name(self) -> str:
        return self.run["run_name"]


def load_run(wh: Warehouse, run: dict[str, Any], page: str, sweep_page: str | None = None) -> RunData:
    run_id, name = run["run_id"], run["run_name"]
    first_day = run["created_at"].astimezone(UTC).date() if run.get("created_at") else None
    last_moment = run.get("last_timestamp") or run.get("finished_at") or run.get("created_at")
    last_day = last_moment.astimezone(UTC).date() if last_moment else None
    return RunData(
        run=run,
        steps=wh.rows("select * from run_steps where run_id = ? order by step", [run_id], needs=("run_steps",)),
        learning=wh.one("select * from run_learning where run_id = ?", [run_id], needs=("run_learning",)),
        ratings=_ratings(wh, run_id),
        gap=wh.rows("select * from elo_gap where run_id = ? order by step", [run_id], needs=("elo_gap",)),
        agents=wh.rows(
            "select * from elo_agent_summary where run_id = ? order by agent_kind, checkpoint_step, agent",
            [run_id], needs=("elo_agent_summary",),
        ),
        evaluations=wh.rows(
            "select * from evaluations where run_id = ? or source_run_name = ? "
            "order by evaluation_step, kind, opponent, run_id",
            [run_id, name], needs=("evaluations",),
        ),
        rollout_hours=wh.rows(
            "select date_trunc('hour', started_at) as hour, status, count(*) as rollouts from rollouts "
            "where run_name = ? group by all order by hour, status",
            [name], needs=("rollouts",),
        ),
        rollout_status=wh.rows(
            "select status, count(*) as rollouts, quantile_cont(duration_s, 0.5) as p50_s, "
            "quantile_cont(duration_s, 0.95) as p95_s, max(duration_s) as max_s, "
            "count(*) filter (where error is not null) as with_error "
            "from rollouts where run_name = ? group by status order by status",
            [name], needs=("rollouts",),
        ),
        extraction_by_power=wh.rows(
            "select power_name, sum(responses) as responses, sum(empty) as empty, sum(partial) as partial, "
            "sum(orders_expected) as orders_expected, sum(orders_extracted) as orders_extracted, "
            "sum(orders_extracted) / nullif(sum(orders_expected), 0) as extraction_rate "
            "from extraction_by_power where day between ? and ? group by power_name order by extraction_rate",
            [first_day, last_day], needs=("extraction_by_power",),
        ) if first_day else [],
        cache_hours=wh.rows(
            "select * from cache_stats where hour >= date_trunc('hour', ?::timestamptz) and hour <= ? order by hour",
            [run.get("created_at"), last_moment], needs=("cache_stats",),
        ) if last_moment else [],
        findings=findings_for(wh, [run_id]),
        fits=fits_where(wh, "list_contains(run_ids, ?)", [run_id]),
        page=page,
        sweep_page=sweep_page,
    )


def _ratings(wh: Warehouse, run_id: str) -> list[dict[str, Any]]:
    """Trainer-scale ratings where the run has them, else eval-scale: the two scales are not comparable."""
    ratings = wh.rows(
        "select step, agent, agent_kind, checkpoint_step, elo, scale from elo_ratings where run_id = ? "
        "order by agent, step", [run_id], needs=("elo_ratings",),
    )
    scales = {r["scale"] for r in ratings}
    scale = "trainer" if "trainer" in scales else next(iter(sorted(scales)), None)
    return [r for r in ratings if r["scale"] == scale]


# --- Summaries shared with the tracker -------------------------------------------------------------


def finite(steps: Sequence[dict[str, Any]], field: str) -> list[tuple[int, float]]:
    return [
        (s["step"], s[field]) for s in steps if isinstance(s.get(field), int | float) and math.isfinite(s[field])
    ]


def reward_arc(steps: Sequence[dict[str, Any]]) -> str:
    """`start → peak (step) → final` of the mean reward, the tracker's headline for learning progress."""
    series = finite(steps, "reward_mean")
    if not series:
        return MISSING
    peak_step, peak = max(series, key=lambda p: p[1])
    return f"{series[0][1]:.3g} → {peak:.3g} (step {peak_step}) → {series[-1][1]:.3g}"


def mean_and_min(steps: Sequence[dict[str, Any]], field: str) -> str:
    values = [v for _, v in finite(steps, field)]
    if not values:
        return MISSING
    return f"mean {sum(values) / len(values):.3f}, min {min(values):.3f}"


def status_line(run: dict[str, Any]) -> str:
    """`finished at step 159: 160 of 160 configured steps logged`."""
    return (f"{run.get('state')} at step {fmt(run.get('last_step'))}: {fmt(run.get('steps_logged'))} of "
            f"{fmt(run.get('total_steps'))} configured steps logged")


def metric_summary(steps: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for field in STEP_METRICS:
        series = finite(steps, field)
        if series:
            values = [v for _, v in series]
            out.append({
                "metric": field, "first": values[0], "min": min(values), "max": max(values),
                "mean": sum(values) / len(values), "last": values[-1], "steps": len(values),
            })
    return out


def severity_counts(findings: Sequence[dict[str, Any]]) -> str:
    counts = {level: sum(1 for f in findings if f["severity"] == level) for level in ("error", "warn", "info")}
    text = " · ".join(f"{n} {level}" for level, n in counts.items() if n)
    return text or "none"


# --- Charts ------------------------------------------------------------------------------------------


def has_key_chart(data: RunData) -> bool:
    return bool(finite(data.steps, "reward_mean") or finite(data.gap, "elo_gap"))


def key_chart(data: RunData) -> alt.TopLevelMixin:
    """Reward ± std beside the Elo gap: is the run learning, and does it beat the base model?

    Only for runs with `has_key_chart`; a run with one of the two shows that one alone.
    """
    parts = []
    if finite(data.steps, "reward_mean"):
        parts.append(charts.reward_chart(data.steps))
    if finite(data.gap, "elo_gap"):
        parts.append(charts.elo_gap_chart(data.gap))
    title = alt.Title(f"{data.name} ({data.run.get('state')})", fontSize=14, offset=12)
    return alt.hconcat(*parts, title=title) if len(parts) > 1 else parts[0]


def key_chart_png(data: RunData) -> bytes:
    return vl_convert.vegalite_to_png(charts.chart_spec(key_chart(data)), scale=PNG_SCALE)


def _chart_or_note(
    page: h.Page, name: str, rows: Sequence[dict[str, Any]], field: str,
    build: Callable[[Sequence[dict[str, Any]]], alt.TopLevelMixin], missing: str,
) -> str:
    if not finite(rows, field):
        return h.note(missing)
    return page.chart(name, build(rows))


# --- HTML ----------------------------------------------------------------------------------------------


def _state_tone(state: str | None) -> str:
    return {"finished": "ok", "crashed": "bad", "running": "info"}.get(state or "", "warn")


def _findings_tone(findings: Sequence[dict[str, Any]]) -> str:
    severities = {f["severity"] for f in findings}
    return "bad" if "error" in severities else "warn" if "warn" in severities else "ok"


def _extraction_card(steps: Sequence[dict[str, Any]]) -> tuple[str, Any, str]:
    rates = [v for _, v in finite(steps, "extraction_rate")]
    if not rates:
        return ("extraction rate (mean)", None, "")
    return ("extraction rate (mean)", sum(rates) / len(rates), "ok" if min(rates) >= 0.95 else "warn")


def _headline(data: RunData) -> list[tuple[str, Any, str]]:
    run, learning = data.run, data.learning or {}
    return [
        ("state", run.get("state"), _state_tone(run.get("state"))),
        ("steps logged / configured", f"{fmt(run.get('steps_logged'))} / {fmt(run.get('total_steps'))}", ""),
        ("runtime", fmt_duration(run.get("runtime_s")), ""),
        ("learning signal", learning.get("learning_signal"),
         {"positive": "ok", "moderate": "info", "weak": "warn"}.get(learning.get("learning_signal") or "", "")),
        ("final Elo gap [95 % band]", fmt_gap(learning.get("final_elo_gap"), learning.get("final_elo_gap_ci_low"),
                                              learning.get("final_elo_gap_ci_high")), "info"),
        ("reward start → peak → final", reward_arc(data.steps), ""),
        _extraction_card(data.steps),
        ("findings", severity_counts(data.findings), _findings_tone(data.findings)),
    ]


def _subtitle(data: RunData) -> str:
    run = data.run
    parts = [f"run <code>{escape(run['run_id'])}</code>", escape(str(run.get("run_kind") or MISSING))]
    if run.get("sweep_name"):
        sweep = (h.link(f"../sweeps/{data.sweep_page}.html", run["sweep_name"]) if data.sweep_page
                 else escape(run["sweep_name"]))
        parts.append(f"sweep {sweep} run {escape(str(run.get('sweep_run_letter') or '?'))}")
    if run.get("tags"):
        parts.append("tags: " + escape(", ".join(run["tags"])))
    parts.append(f"started {fmt_time(run.get('created_at'))}, last data {fmt_time(run.get('last_timestamp'))}")
    parts.append(h.link(f"{data.page}.md", "Markdown version"))
    return " · ".join(parts)


def _configuration_html(data: RunData) -> str:
    run = data.run
    fields = [{"setting": f, "value": run.get(f)} for f in CONFIG_FIELDS]
    config = parse_json(run.get("config")) or {}
    return h.table(fields, [("setting", "setting"), ("value", "value")]) + h.details(
        f"Whole configuration ({len(config)} keys)", json.dumps(config, indent=2, sort_keys=True, default=str)
    )


def _ratings_html(page: h.Page, data: RunData) -> str:
    if not data.ratings:
        return h.note("This run logged no league ratings.")
    learning = data.learning or {}
    summary = (
        f"Best checkpoint {learning.get('best_checkpoint') or MISSING} peaked at "
        f"{fmt(learning.get('best_checkpoint_peak_elo'))}; {fmt(learning.get('checkpoints_declining'))} of "
        f"{fmt(learning.get('checkpoints'))} checkpoints are declining (older checkpoints losing to newer ones is "
        f"the learning signal); base_model is {learning.get('base_model_trend') or MISSING}; baseline exploitation "
        f"{fmt(learning.get('baseline_exploitation'))}."
    )
    scale = data.ratings[0]["scale"]
    agents = h.table(data.agents, [
        ("agent", "agent"), ("kind", "agent_kind"), ("initial", "initial_elo"), ("peak", "peak_elo"),
        ("peak step", "peak_step"), ("final", "final_elo"), ("change", "change"), ("trend", "trend"),
    ])
    return (
        h.paragraph(escape(summary))
        + h.note(f"Ratings on the {scale} scale; each agent is drawn only at the steps it was rated.")
        + page.chart("ratings", charts.ratings_chart(data.ratings))
        + _chart_or_note(page, "elo gap", data.gap, "elo_gap", charts.elo_gap_chart,
                         "No step has both a checkpoint and a base_model rating yet.")
        + agents
    )


def _evaluations_html(data: RunData) -> str:
    return h.table(data.evaluations, [
        ("kind", "kind"), ("checkpoint", "checkpoint"), ("eval step", "evaluation_step"), ("opponent", "opponent"),
        ("games", "games"), ("win rate", "win_rate"), ("avg score", "avg_score"), ("avg centers", "avg_centers"),
        ("floor", "floor"), ("passed", "passed"),
    ], empty="No evaluations of this run's checkpoints.")


def _failed_rollouts(page: h.Page, data: RunData) -> str:
    failures = finite(data.steps, "rollout_failed_count")
    if not failures:
        return h.note("The trainer logged no rollout failure counts.")
    if not any(count for _, count in failures):
        return h.note(f"No rollout failed in any of the {len(failures)} steps (trainer count).")
    return page.chart("failed rollouts", charts.failed_rollouts_chart(data.steps))


def _rollouts_html(page: h.Page, data: RunData) -> str:
    parts = [
        _failed_rollouts(page, data),
        page.chart("rollout status", charts.rollout_status_chart(data.rollout_hours)) if data.rollout_hours
        else h.note("No Axiom rollout events are attributed to this run."),
    ]
    status = h.table(data.rollout_status, [
        ("status", "status"), ("rollouts", "rollouts"), ("p50 s", "p50_s"), ("p95 s", "p95_s"), ("max s", "max_s"),
        ("with an error", "with_error"),
    ], empty="")
    return h.grid(*parts) + status


def _cache_html(page: h.Page, data: RunData) -> str:
    if finite(data.steps, "cache_hit_rate"):
        return page.chart("cache", charts.cache_hit_chart(data.steps))
    if data.cache_hours:
        return h.note("The trainer did not log a hit rate; these are the inference engine's counters over the "
                      "hours of this run (shared by anything else running then).") + page.chart(
            "cache", charts.hourly_cache_hit_chart(data.cache_hours))
    return h.note("No prefix-cache statistics cover this run.")


def run_html(wh: Warehouse, data: RunData, digest: str = "") -> str:
    page = h.Page(f"Run {data.name}", _subtitle(data), digest)
    steps = data.steps
    page.section("At a glance", h.cards(_headline(data)))
    page.section("Findings", findings_html(wh, data.findings))
    page.section("Configuration", _configuration_html(data))
    page.section(
        "Training dynamics",
        h.grid(
            _chart_or_note(page, "loss", steps, "loss", charts.loss_chart, "No loss logged."),
            _chart_or_note(page, "kl", steps, "kl", charts.kl_chart, "No KL logged."),
            _chart_or_note(page, "reward", steps, "reward_mean", charts.reward_chart, "No reward logged."),
            _chart_or_note(page, "grad norm", steps, "grad_norm", charts.grad_norm_chart, "No gradient norm logged."),
        ),
        h.table(metric_summary(steps), [(c, c) for c in ("metric", "first", "min", "max", "mean", "last", "steps")],
                empty="This run logged no training steps."),
    )
    page.section("Throughput", _chart_or_note(page, "throughput", steps, "trajectories_per_s",
                                              charts.throughput_chart, "No throughput logged."))
    page.section(
        "Extraction",
        _chart_or_note(page, "extraction", steps, "extraction_rate", charts.extraction_chart,
                       "No extraction rate logged."),
        h.note("By power, from Axiom, over the days this run was active (other runs on those days included):"),
        h.table(data.extraction_by_power, [
            ("power", "power_name"), ("extraction rate", "extraction_rate"), ("orders expected", "orders_expected"),
            ("orders extracted", "orders_extracted"), ("responses", "responses"), ("empty", "empty"),
            ("partial", "partial"),
        ], empty="No Axiom extraction events on those days."),
    )
    page.section("Rollout reliability", _rollouts_html(page, data))
    page.section("Cache", _cache_html(page, data))
    page.section("Ratings", _ratings_html(page, data))
    page.section("Evaluations", _evaluations_html(data))
    if data.fits:
        page.section("Scaling", fits_html(page, wh, data.fits))
    return page.render()


# --- Markdown ------------------------------------------------------------------------------------------


def run_markdown(wh: Warehouse, data: RunData, has_png: bool) -> str:
    run = data.run
    config = parse_json(run.get("config")) or {}
    identity = (
        f"Run {md_code(run['run_id'])} · {md_text(run.get('run_kind') or MISSING)} · {md_text(run.get('state'))} · "
        f"started {fmt_time(run.get('created_at'))} · [interactive report]({data.page}.html)"
    )
    lines = [f"# Run {md_text(data.name)}", "", identity, ""]
    if has_png:
        lines += [f"![Reward and Elo gap]({data.page}.png)", ""]
    lines += [
        "## At a glance", "",
        md_table([{"what": label, "value": value} for label, value, _ in _headline(data)],
                 [("what", "what"), ("value", "value")]),
        "", "## Findings", "", findings_md(wh, data.findings),
        "", "## Configuration", "",
        md_table([{"setting": f, "value": run.get(f)} for f in CONFIG_FIELDS], [("setting", "setting"), ("value", "value")]),
        "", "<details><summary>Whole configuration</summary>", "",
        code_block(json.dumps(config, indent=2, sort_keys=True, default=str), "json"), "", "</details>",
        "", "## Training dynamics", "",
        md_table(metric_summary(data.steps), [(c, c) for c in ("metric", "first", "min", "max", "mean", "last", "steps")]),
        "", "## Rollout reliability (Axiom)", "",
        md_table(data.rollout_status, [(c, c) for c in ("status", "rollouts", "p50_s", "p95_s", "max_s", "with_error")]),
        "", "## Extraction by power (Axiom, the run's days)", "",
        md_table(data.extraction_by_power, [(c, c) for c in ("power_name", "extraction_rate", "orders_expected",
                                                             "orders_extracted", "responses", "empty", "partial")]),
        "", "## Ratings", "",
        md_table(data.agents, [(c, c) for c in ("agent", "agent_kind", "initial_elo", "peak_elo", "peak_step",
                                                "final_elo", "change", "trend")]),
        "", "## Evaluations", "",
        md_table(data.evaluations, [(c, c) for c in ("kind", "checkpoint", "evaluation_step", "opponent", "games",
                                                     "win_rate", "avg_score", "floor", "passed")]),
    ]
    if data.fits:
        lines += ["", "## Scaling", "", fits_md(data.fits)]
    return "\n".join(lines) + "\n"


# --- All runs ------------------------------------------------------------------------------------------


def render_run_reports(wh: Warehouse, reports_dir: Path) -> tuple[PagesWritten, list[RunData]]:
    """Every run's page, Markdown and key-chart PNG; pages of runs no longer in the warehouse are removed.

    A run whose inputs (and the renderer) are unchanged since its page was written is not rendered again.
    """
    folder = reports_dir / "runs"
    out = PagesWritten(folder)
    runs = wh.rows("select * from runs order by created_at, run_id", needs=("runs",))
    pages = run_page_names(runs)
    sweep_pages = sweep_page_names(s["sweep_name"] for s in wh.rows("select sweep_name from sweeps", needs=("sweeps",)))
    loaded = [load_run(wh, run, pages[run["run_id"]], sweep_pages.get(run.get("sweep_name"))) for run in runs]
    for data in loaded:
        html_path, md_path, png_path = run_report_files(reports_dir, data.page).values()
        with_png = has_key_chart(data)
        digest = inputs_digest([data.page, wh.has("findings"), wh.has("power_law_fits"), asdict(data)])
        if out.is_current(html_path, digest, [md_path, png_path] if with_png else [md_path]):
            continue
        if with_png:
            out.put(png_path, key_chart_png(data))
        out.put(html_path, run_html(wh, data, digest))
        out.put(md_path, run_markdown(wh, data, with_png))
    if wh.has("runs"):  # a missing table says nothing about which runs exist: keep their pages then
        out.remove_stale(folder, (".html", ".md", ".png"))
    return out, loaded
