"""The experiment tracker's sweep entries: one per sweep definition, in the guide's fields.

Hypothesis, config variants, command, status, results (from the warehouse) and key learnings, root cause and
follow-up (hand-written, from `notes.md` beside the sweep.yaml: lib/sweeps/notes.py; the tracker reads that
file and never writes it, so a rebuild cannot lose what a person wrote).

Status: `concluded` when the notes say so (their `## Status` section); `planned` for a definition with no
runs yet; `running` while any run is running, or while some of its letters have no run yet; `failed` when
any run ended other than `finished` (crashed, killed, failed); `completed` when every letter has a finished
run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from diplo_pipeline.lib.reports.data import Warehouse, parse_json
from diplo_pipeline.lib.reports.markdown import md_code, md_text
from diplo_pipeline.lib.reports.text import MISSING, fmt, fmt_gap

FINISHED = "finished"
ENDED_BADLY = {"crashed", "killed", "failed"}
HAND_WRITTEN = (("Key learnings", "key_learnings"), ("Root cause", "root_cause"), ("Follow-up", "follow_up"))


def sweep_status(definition: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    """planned, running, completed, failed or concluded (the rule in the module docstring)."""
    if definition.get("notes_status") == "concluded":
        return "concluded"
    if not runs:
        return "planned"
    states = {run["state"] for run in runs}
    letters = set(parse_json(definition.get("variants")) or {})
    missing = letters - {run["sweep_run_letter"] for run in runs}
    if "running" in states:
        return "running"
    if states & ENDED_BADLY:
        return "failed"
    if missing:
        return "running"
    return "completed" if states == {FINISHED} else "running"


def _variant_lines(definition: dict[str, Any], runs: list[dict[str, Any]]) -> list[str]:
    defaults = parse_json(definition.get("defaults")) or {}
    variants = parse_json(definition.get("variants")) or {}
    by_letter: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_letter.setdefault(run["sweep_run_letter"], []).append(run)
    lines = []
    for letter in sorted(variants):
        variant = variants[letter]
        config = variant.get("config") or {}
        overrides = "; ".join(
            md_code(f"{key}: {fmt(config[key])}") for key in sorted(config)
            if key not in defaults or defaults[key] != config[key]
        ) or "the defaults"
        realised = ", ".join(f"{md_code(r['run_name'])} ({md_text(r['state'])})" for r in by_letter.get(letter, []))
        name = md_text(variant.get("name") or "")
        lines.append(f"{md_text(letter)} {name}: {overrides}; run: {realised or 'none yet'}")
    return lines or ["none defined"]


def _results(definition: dict[str, Any], runs: list[dict[str, Any]]) -> list[str]:
    if not runs:
        return ["no runs yet"]
    lines = []
    if definition.get("verdict"):
        met = definition.get("expected_ranking_met")
        expected = MISSING if met is None else ("met" if met else "not met")
        lines.append(
            f"Verdict: {md_text(definition['verdict'])}; winner {md_code(definition.get('winner_run_name'))} "
            f"by {fmt(definition.get('margin'))} Elo over {md_code(definition.get('runner_up_run_name'))}; "
            f"expected ranking {expected}"
        )
    for run in sorted(runs, key=lambda r: (r["rank_by_elo_gap"] is None, r["rank_by_elo_gap"] or 0)):
        gap = fmt_gap(run.get("final_elo_gap"), run.get("final_elo_gap_ci_low"), run.get("final_elo_gap_ci_high"))
        unstable = " (unstable: KL max above the limit)" if run.get("unstable") else ""
        lines.append(
            f"{md_text(run['sweep_run_letter'])} {md_code(run['run_name'])}: rank {fmt(run.get('rank_by_elo_gap'))}, "
            f"final Elo gap {md_text(gap)}{unstable}"
        )
    return lines


def _hand_written(definition: dict[str, Any], label: str, field: str) -> list[str]:
    text = definition.get(field)
    if not text:
        return [f"- **{label}:** not written yet (add a `## {label}` section to {md_code(definition['notes_path'])})"]
    return [f"- **{label}:**", *(f"  {md_text(line)}" if line.strip() else "" for line in text.splitlines())]


def sweep_entry(definition: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    name = definition["sweep_name"]
    folder = Path(definition["source_path"]).parent.name
    command = (f"{md_code(f'python scripts/launch_sweep.py experiments/sweeps/{folder}/sweep.yaml')}; analysed with "
               f"{md_code(f'diplo sweep {name} --format json')}")
    identity = f"[report](sweeps/{md_text(name)}.html) · created {md_text(definition.get('created') or MISSING)}"
    author = f" by {md_text(definition['author'])}" if definition.get("author") else ""
    return "\n".join([
        f"## Sweep {md_text(name)}",
        "",
        identity + author,
        "",
        f"- **Hypothesis:** {md_text(definition.get('hypothesis') or 'not recorded in the sweep.yaml')}",
        "- **Config variants:**",
        *(f"  - {line}" for line in _variant_lines(definition, runs)),
        f"- **Command:** {command}",
        f"- **Status:** {sweep_status(definition, runs)}",
        "- **Results:**",
        *(f"  - {line}" for line in _results(definition, runs)),
        *(line for label, field in HAND_WRITTEN for line in _hand_written(definition, label, field)),
        "",
    ])


def sweep_entries(wh: Warehouse) -> list[str]:
    """One entry per sweep definition, newest first; none before the definitions are ingested."""
    definitions = wh.rows("tracker_sweeps", needs=("raw_sweeps__definitions", "sweeps"))
    runs: dict[str, list[dict[str, Any]]] = {}
    for run in wh.rows("tracker_sweep_runs", needs=("sweep_runs", "run_learning")):
        runs.setdefault(run["sweep_name"], []).append(run)
    return [sweep_entry(d, runs.get(d["sweep_name"], [])) for d in definitions]
