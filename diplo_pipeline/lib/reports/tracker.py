"""`tracker.md`: one entry per run in the researchers' experiment-tracker layout, newest first.

The layout is the template `experiment-tracker.md` was kept by hand in (source-data.md §3, item 10):
hypothesis, config changes, status, results (learning signal, baseline exploitation, best Elo and gap,
reward start → peak → final, extraction rate) and issues. Here every line comes from the warehouse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from diplo_pipeline.lib.reports.data import Warehouse, parse_json
from diplo_pipeline.lib.reports.markdown import md_code, md_text
from diplo_pipeline.lib.reports.output import PagesWritten
from diplo_pipeline.lib.reports.run_data import RunData, load_runs
from diplo_pipeline.lib.reports.run_summary import mean_and_min, reward_arc, status_line
from diplo_pipeline.lib.reports.text import MISSING, fmt, fmt_duration, fmt_gap, fmt_steps, fmt_time

# Config keys that name or locate a run rather than configure it: a change in them is not an experiment.
IDENTITY_KEYS = {
    "run_name", "experiment_tag", "git_branch", "git_commit", "wandb_project", "profile_run_name",
    "resume_from_run", "resume_from_step", "league_registry_path", "league_inherit_from",
}
MAX_CHANGES = 12


def config_changes(config: dict[str, Any], previous: dict[str, Any]) -> list[str]:
    """`key: old → new` for every setting that differs from the previous run's, identity keys aside."""
    keys = sorted((set(config) | set(previous)) - IDENTITY_KEYS)
    return [
        f"{key}: {fmt(previous.get(key)) if key in previous else 'unset'} → "
        f"{fmt(config.get(key)) if key in config else 'unset'}"
        for key in keys
        if config.get(key) != previous.get(key)
    ]


def _changes_line(data: RunData, previous: RunData | None) -> str:
    if data.run.get("run_kind") != "training":
        return f"not compared (an {md_text(data.run.get('run_kind') or 'unclassified')} run)"
    if previous is None:
        return "first training run in the warehouse; nothing to compare with"
    changes = config_changes(parse_json(data.run.get("config")) or {}, parse_json(previous.run.get("config")) or {})
    if not changes:
        return f"none against {md_code(previous.name)}"
    shown = "; ".join(md_code(c) for c in changes[:MAX_CHANGES])
    more = f"; and {len(changes) - MAX_CHANGES} more" if len(changes) > MAX_CHANGES else ""
    return f"against {md_code(previous.name)}: {shown}{more}"


def evaluation_result(row: dict[str, Any]) -> str:  # numbers only: safe as Markdown
    return (f"win rate {fmt(row.get('win_rate'))}, survival {fmt(row.get('survival_rate'))}, "
            f"{fmt(row.get('avg_centers'))} centres on average over {fmt(row.get('games'))} games")


def _hypothesis(data: RunData, sweep_hypotheses: dict[str, str]) -> str:
    notes = (data.run.get("notes") or "").strip()
    sweep = sweep_hypotheses.get(data.run.get("sweep_name") or "")
    text = notes or (f"(sweep {data.run['sweep_name']}) {sweep}" if sweep else "")
    if text.strip():
        return md_text(text)
    return "not recorded (the run has no WandB notes and belongs to no sweep with one)"


def _issues(data: RunData, has_findings: bool) -> list[str]:
    if not has_findings:
        return ["findings not computed yet"]
    flagged = [f for f in data.findings if f["severity"] in ("error", "warn")]
    return [
        f"**{md_text(f['severity'])}** {md_code(f['rule'])} (steps {fmt_steps(f['step_start'], f['step_end'])}): "
        f"{md_text(f['message'])}"
        for f in flagged
    ] or ["none (no warn or error finding)"]


def _learning_results(learning: dict[str, Any]) -> list[str]:
    if not learning:
        return ["Learning signal: no league ratings"]
    declining = f"{fmt(learning.get('checkpoints_declining'))} of {fmt(learning.get('checkpoints'))}"
    final_gap = fmt_gap(
        learning.get("final_elo_gap"), learning.get("final_elo_gap_ci_low"), learning.get("final_elo_gap_ci_high")
    )
    signal = (
        f"Learning signal: {md_text(learning.get('learning_signal'))} ({declining} checkpoints declining; "
        f"base_model {md_text(learning.get('base_model_trend') or MISSING)})"
    )
    best = (
        f"Best Elo: {fmt(learning.get('best_checkpoint_peak_elo'))} ({md_code(learning.get('best_checkpoint'))}); "
        f"Elo gap final {md_text(final_gap)}, max {md_text(fmt_gap(learning.get('max_elo_gap'), None, None))}"
    )
    return [signal, f"Baseline exploitation: {fmt(learning.get('baseline_exploitation'))}", best]


def _results(data: RunData) -> list[str]:
    own_evaluations = [e for e in data.evaluations if e["run_id"] == data.run["run_id"] and e["kind"] == "standalone"]
    return [
        *_learning_results(data.learning or {}),
        *(f"Evaluation vs {md_text(e['opponent'])}: {evaluation_result(e)}" for e in own_evaluations),
        f"Reward start → peak → final: {reward_arc(data.steps)}",
        f"Extraction rate: {mean_and_min(data.steps, 'extraction_rate')}",
    ]


def tracker_entry(data: RunData, previous: RunData | None, sweep_hypotheses: dict[str, str], has_findings: bool) -> str:
    run = data.run
    tags = ", ".join(md_text(tag) for tag in run.get("tags") or []) or MISSING
    identity = (
        f"[report](runs/{data.page}.html) · run {md_code(run['run_id'])} · {md_text(run.get('run_kind') or MISSING)} · "
        f"started {fmt_time(run.get('created_at'))} · runtime {fmt_duration(run.get('runtime_s'))} · tags: {tags}"
    )
    return "\n".join([
        f"## {md_text(data.name)}",
        "",
        identity,
        "",
        f"- **Hypothesis:** {_hypothesis(data, sweep_hypotheses)}",
        f"- **Config changes:** {_changes_line(data, previous)}",
        f"- **Status:** {md_text(status_line(run))}",
        "- **Results:**",
        *(f"  - {line}" for line in _results(data)),
        "- **Issues:**",
        *(f"  - {issue}" for issue in _issues(data, has_findings)),
        "",
    ])


def tracker_markdown(wh: Warehouse, loaded: list[RunData]) -> str:
    sweep_hypotheses = {
        s["sweep_name"]: s["hypothesis"] for s in wh.rows("sweeps", needs=("sweeps",)) if s["hypothesis"] is not None
    }
    entries, previous = [], None
    for data in loaded:  # oldest first, so each training run is compared with the one before it
        entries.append(tracker_entry(data, previous, sweep_hypotheses, wh.has("findings")))
        if data.run.get("run_kind") == "training":
            previous = data
    newest = max((d.run["last_timestamp"] for d in loaded if d.run.get("last_timestamp")), default=None)
    intro = (
        f"One entry per run, newest first, {len(loaded)} runs with data through {fmt_time(newest)}. Written from "
        "the warehouse on every build: to record a hypothesis, put it in the run's WandB notes or its sweep.yaml."
    )
    header = ["# Experiment tracker", "", intro, ""]
    return "\n".join(header + entries[::-1])


def render_tracker(wh: Warehouse, reports_dir: Path) -> PagesWritten:
    out = PagesWritten(reports_dir)
    loaded = load_runs(wh)
    out.put(reports_dir / "tracker.md", tracker_markdown(wh, loaded))
    return out
