"""`tracker.md`: the researchers' experiment tracker, written from the warehouse on every build.

First one entry per sweep definition (lib/reports/tracker_sweeps.py: hypothesis, config variants, command,
status — `planned` before any run — results, and the hand-written key learnings, root cause and follow-up
read from the `notes.md` beside its sweep.yaml, never written), then one entry per run, newest first, in the
template `experiment-tracker.md` was kept by hand in (source-data.md §3, item 10): hypothesis, config
changes, status, results (learning signal, baseline exploitation, best Elo and gap, reward start → peak →
final, extraction rate, the run against its baseline) and issues.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from diplo_pipeline.lib.analytics.verdicts import MINUS, learning_signal_text
from diplo_pipeline.lib.lake.io import read_json, write_json_atomic
from diplo_pipeline.lib.reports.data import Warehouse, parse_json
from diplo_pipeline.lib.reports.markdown import md_code, md_text
from diplo_pipeline.lib.reports.output import PagesWritten, inputs_digest
from diplo_pipeline.lib.reports.page_inputs import (
    PageInputs,
    PartitionFingerprints,
    RunIndex,
    RunLoader,
    page_inputs,
    rows_fingerprints,
    same_warehouse,
)
from diplo_pipeline.lib.reports.run_data import RunEntry, load_entry
from diplo_pipeline.lib.reports.run_summary import mean_and_min, reward_arc, status_line
from diplo_pipeline.lib.reports.text import MISSING, fmt, fmt_duration, fmt_gap, fmt_steps, fmt_time
from diplo_pipeline.lib.reports.tracker_sweeps import sweep_entries

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


def _changes_line(data: RunEntry, previous: RunEntry | None) -> str:
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


def _hypothesis(data: RunEntry, sweep_hypotheses: dict[str, str]) -> str:
    notes = (data.run.get("notes") or "").strip()
    sweep = sweep_hypotheses.get(data.run.get("sweep_name") or "")
    text = notes or (f"(sweep {data.run['sweep_name']}) {sweep}" if sweep else "")
    if text.strip():
        return md_text(text)
    return "not recorded (the run has no WandB notes and belongs to no sweep with one)"


def _issues(data: RunEntry, has_findings: bool) -> list[str]:
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
        f"Learning signal: {md_text(learning_signal_text(learning))} ({declining} checkpoints declining; "
        f"base_model {md_text(learning.get('base_model_trend') or MISSING)})"
    )
    max_gap = fmt_gap(
        learning.get("max_elo_gap"), learning.get("max_elo_gap_ci_low"), learning.get("max_elo_gap_ci_high")
    )
    best = (
        f"Best Elo: {fmt(learning.get('best_checkpoint_peak_elo'))} ({md_code(learning.get('best_checkpoint'))}); "
        f"Elo gap final {md_text(final_gap)}, max {md_text(max_gap)}"
    )
    return [signal, f"Baseline exploitation: {fmt(learning.get('baseline_exploitation'))}", best]


# run_baselines' compared values: (column, label, how a change reads)
BASELINE_VALUES = (("final_elo_gap", "final Elo gap"), ("final_reward", "final reward"), ("kl_max", "KL max"),
                   ("trajectories_per_s", "trajectories/s"), ("steps_to_target", "steps to target"))


def baseline_result(row: dict[str, Any] | None) -> str:
    """`Against baseline X (tagged baseline; 1 config key differs: kl_beta): final Elo gap +38.0 [..] not
    significant, ...`: every compared value's change with its significance (run_baselines)."""
    if row is None:
        return "Against baseline: none (no other training run on the same base model)"
    keys = list(parse_json(row.get("differing_keys")) or {})
    shown = ", ".join(md_code(key) for key in keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
    differs = f"{len(keys)} config keys differ: {shown}" if keys else "no config key differs"
    changes = []
    for column, label in BASELINE_VALUES:
        change, significant = row.get(f"{column}_change"), row.get(f"{column}_significant")
        low, high = row.get(f"{column}_change_ci_low"), row.get(f"{column}_change_ci_high")
        if column == "steps_to_target":
            value = f"{fmt(row.get(column))} vs {fmt(row.get(f'baseline_{column}'))} ({md_text(row.get('target'))})"
        elif column == "final_elo_gap":  # Elo to the point, as every page writes a gap
            value = fmt_gap(change, low, high) if change is not None else MISSING
        else:  # rewards, KL and rates are small numbers: rounding them to the point would erase the change
            value = _change_with_band(change, low, high)
        verdict = "significant" if significant else ("not judged" if significant is None else "not significant")
        changes.append(f"{label} {md_text(value)} {verdict}")
    return (f"Against baseline {md_code(row['baseline_run_name'])} ({md_text(row['selection'].replace('_', ' '))}; "
            f"{differs}): " + "; ".join(changes))


def _change_with_band(change: float | None, low: float | None, high: float | None) -> str:
    """`+0.25 [+0.10, +0.40]`: a change in a small quantity, signed, to two decimals, with its band."""
    if change is None:
        return MISSING

    def signed(value: float) -> str:
        return f"{value:+.2f}".replace("-", MINUS)  # the true minus, as verdicts.signed writes an Elo gap
    if low is None or high is None:
        return signed(change)
    return f"{signed(change)} [{signed(low)}, {signed(high)}]"


def _results(data: RunEntry, baselines: dict[str, dict[str, Any]]) -> list[str]:
    own_evaluations = [e for e in data.evaluations if e["run_id"] == data.run["run_id"] and e["kind"] == "standalone"]
    against = [baseline_result(baselines.get(data.run["run_id"]))] if data.run.get("run_kind") == "training" else []
    return [
        *_learning_results(data.learning or {}),
        *(f"Evaluation vs {md_text(e['opponent'])}: {evaluation_result(e)}" for e in own_evaluations),
        f"Reward start → peak → final: {reward_arc(data.steps)}",
        f"Extraction rate: {mean_and_min(data.steps, 'extraction_rate')}",
        *against,
    ]


def tracker_entry(
    data: RunEntry,
    previous: RunEntry | None,
    sweep_hypotheses: dict[str, str],
    has_findings: bool,
    baselines: dict[str, dict[str, Any]] | None = None,
) -> str:
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
        *(f"  - {line}" for line in _results(data, baselines or {})),
        "- **Issues:**",
        *(f"  - {issue}" for issue in _issues(data, has_findings)),
        "",
    ])


def tracker_markdown(runs: list[dict[str, Any]], entries: dict[str, str], sweeps: list[str]) -> str:
    """The tracker: `sweeps` (one entry per sweep definition), then every one of `runs` (oldest first, as
    `runs.sql` orders them) from its entry, newest first."""
    newest = max((run["last_timestamp"] for run in runs if run.get("last_timestamp")), default=None)
    intro = (
        f"One entry per sweep definition ({len(sweeps)}), then one per run, newest first, {len(runs)} runs with "
        f"data through {fmt_time(newest)}. Written from the warehouse on every build: to record a hypothesis, put "
        "it in the run's WandB notes or its sweep.yaml; key learnings, root cause and follow-up go in the notes.md "
        "beside the sweep.yaml (sections `## Key learnings`, `## Root cause`, `## Follow-up`, and `## Status` with "
        "`concluded` once it is), which the pipeline only reads."
    )
    header = ["# Experiment tracker", "", intro, ""]
    return "\n".join(header + sweeps + [entries[run["run_id"]] for run in reversed(runs)])


def _entry_inputs(
    index: RunIndex,
    inputs: PageInputs,
    sweep_hypotheses: dict[str, str],
    has_findings: bool,
    baselines: dict[str, dict[str, Any]],
) -> tuple[dict[str, str], dict[str, str | None]]:
    """Each run's entry fingerprint (what its page shows, the training run before it, its sweep's hypothesis,
    its run_baselines row) and that previous run: oldest first, each training run is compared with the one
    before it."""
    digests, previous_of, previous = {}, {}, None
    for run in index.runs:
        run_id = run["run_id"]
        previous_of[run_id] = previous
        digests[run_id] = inputs_digest([
            inputs.digests[run_id], previous and inputs.digests[previous],
            sweep_hypotheses.get(run.get("sweep_name") or ""), has_findings, baselines.get(run_id),
        ])
        if run.get("run_kind") == "training":
            previous = run_id
    return digests, previous_of


def render_tracker(
    wh: Warehouse,
    reports_dir: Path,
    partitions: PartitionFingerprints | None = None,
    load: RunLoader | None = None,
    entries_path: Path | None = None,
) -> PagesWritten:
    """`tracker.md` from the sweep entries and every run's entry. A run's entry is kept (in `entries_path`,
    with its inputs fingerprint: lib/reports/page_inputs.py) while its inputs are unchanged: only the entries
    of changed runs read their run's rows. Without `entries_path` every entry is written again; without
    `partitions` and `load`, `wh` answers everything (see render_run_reports). The sweep entries read only
    the small `sweeps`/`sweep_runs` tables and the notes.md files, so they are written every time."""
    out = PagesWritten(reports_dir)
    index = RunIndex.of(wh)
    partitions, load = partitions or rows_fingerprints(wh), load or same_warehouse(wh)
    inputs = page_inputs(wh, index, partitions)
    sweep_hypotheses = {
        s["sweep_name"]: s["hypothesis"] for s in wh.rows("sweeps", needs=("sweeps",)) if s["hypothesis"] is not None
    }
    baselines = {row["run_id"]: row for row in wh.rows("tracker_baselines", needs=("run_baselines",))}
    digests, previous_of = _entry_inputs(index, inputs, sweep_hypotheses, wh.has("findings"), baselines)
    stored = read_json(entries_path, {}) if entries_path else {}
    kept = {r: e for r, e in stored.items() if r in digests and e["inputs"] == digests[r]}
    stale = [run for run in index.runs if run["run_id"] not in kept]
    if stale:
        wanted = {run["run_id"] for run in stale} | {previous_of[run["run_id"]] for run in stale} - {None}
        by_id = {run["run_id"]: run for run in index.runs}
        with load(sorted(wanted)) as runs_wh:
            loaded = {r: load_entry(runs_wh, by_id[r], index.pages[r]) for r in wanted}
            for run in stale:
                run_id, previous = run["run_id"], previous_of[run["run_id"]]
                entry = tracker_entry(
                    loaded[run_id], loaded.get(previous), sweep_hypotheses, wh.has("findings"), baselines
                )
                kept[run_id] = {"inputs": digests[run_id], "entry": entry}
    out.put(reports_dir / "tracker.md", tracker_markdown(
        index.runs, {r: e["entry"] for r, e in kept.items()}, sweep_entries(wh)
    ))
    if entries_path and kept != stored:
        write_json_atomic(kept, entries_path)
    return out
