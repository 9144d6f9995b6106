"""`runs/<run_name>.html`: the full analysis of one run; `runs/<run_name>.png`: its key chart."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path
from typing import Any

import altair as alt
import vl_convert

from diplo_pipeline.lib.analytics.verdicts import learning_signal_text
from diplo_pipeline.lib.reports import charts
from diplo_pipeline.lib.reports import html as h
from diplo_pipeline.lib.reports.data import Warehouse, parse_json
from diplo_pipeline.lib.reports.run_data import RunData
from diplo_pipeline.lib.reports.run_summary import CONFIG_FIELDS, METRIC_COLUMNS, finite, headline, metric_summary
from diplo_pipeline.lib.reports.shared import findings_html, fits_html
from diplo_pipeline.lib.reports.targets import targets_html
from diplo_pipeline.lib.reports.text import MISSING, fmt, fmt_time

PNG_SCALE = 1.0  # the key chart as the Dagster UI shows it: legible at its natural size, small to embed


# --- The key chart --------------------------------------------------------------------------------------


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


# --- Sections -------------------------------------------------------------------------------------------


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


def _training_html(page: h.Page, data: RunData) -> str:
    steps = data.steps
    return h.grid(
        _chart_or_note(page, "loss", steps, "loss", charts.loss_chart, "No loss logged."),
        _chart_or_note(page, "kl", steps, "kl", charts.kl_chart, "No KL logged."),
        _chart_or_note(page, "reward", steps, "reward_mean", charts.reward_chart, "No reward logged."),
        _chart_or_note(page, "grad norm", steps, "grad_norm", charts.grad_norm_chart, "No gradient norm logged."),
    ) + h.table(metric_summary(steps), [(c, c) for c in METRIC_COLUMNS], empty="This run logged no training steps.")


def _extraction_html(page: h.Page, data: RunData) -> str:
    return (
        _chart_or_note(page, "extraction", data.steps, "extraction_rate", charts.extraction_chart,
                       "No extraction rate logged.")
        + h.note("By power, from Axiom, over the days this run was active (other runs on those days included):")
        + h.table(data.extraction_by_power, [
            ("power", "power_name"), ("extraction rate", "extraction_rate"), ("orders expected", "orders_expected"),
            ("orders extracted", "orders_extracted"), ("responses", "responses"), ("empty", "empty"),
            ("partial", "partial"),
        ], empty="No Axiom extraction events on those days.")
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
        f"{fmt(learning.get('baseline_exploitation'))}. Learning signal: {learning_signal_text(learning) or MISSING} "
        "(significant only when the final gap's 95 % band excludes 0)."
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


def _replay_link(row: dict[str, Any]) -> str:
    """A link the browser opens from the page (both are on this machine), or the file's name alone."""
    local = row.get("local_path")
    name = Path(row["file_path"]).name
    return h.link(Path(local).as_uri(), name) if local else escape(name) + " (not on this machine)"


def _artifacts_html(data: RunData) -> str:
    replays = h.table(data.replays, [
        ("replay", _replay_link), ("opponent", "opponent"), ("logged as", "replay_name"), ("step", "step"),
        ("from", "replay_source"),
    ], empty="This run logged no game replays.")
    listing = h.table(data.artifacts, [
        ("what", "what"), ("kind", "kind"), ("name", "item_name"), ("version or digest", "version_or_digest"),
        ("files or rows", "items"), ("bytes", "size_bytes"),
    ], empty="This run logged no artifacts or W&B Tables.")
    return h.note("Replays open from this machine's copy (the run folder's files/media/html, or the artifact's "
                  "files as the SDK staged them until the run is synced).") + replays + listing


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


# --- The page -------------------------------------------------------------------------------------------


def run_html(wh: Warehouse, data: RunData, digest: str = "") -> str:
    page = h.Page(f"Run {data.name}", _subtitle(data), digest)
    page.section("At a glance", h.cards(headline(data)))
    page.section("Findings", findings_html(wh, data.findings))
    page.section("Configuration", _configuration_html(data))
    page.section("Training dynamics", _training_html(page, data))
    page.section("Throughput", _chart_or_note(page, "throughput", data.steps, "trajectories_per_s",
                                              charts.throughput_chart, "No throughput logged."))
    page.section("Extraction", _extraction_html(page, data))
    page.section("Rollout reliability", _rollouts_html(page, data))
    page.section("Cache", _cache_html(page, data))
    page.section("Operating targets", targets_html(
        data.targets, "No Axiom events are attributed to this run, so no operating target was measured."))
    page.section("Ratings", _ratings_html(page, data))
    page.section("Evaluations", _evaluations_html(data))
    if data.replays or data.artifacts:
        page.section("Replays and artifacts", _artifacts_html(data))
    if data.fits:
        page.section("Scaling", fits_html(page, wh, data.fits))
    return page.render()
