"""What `diplo demo` tells a new user after its build: commands that work as printed, and which failed checks
are the demo's planted problems."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from diplo_pipeline.demo import plan as planted
from diplo_pipeline.demo.next_steps import demo_hints
from diplo_pipeline.demo.planted_checks import planted_check_failures
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.wandb.records import read_wandb_file
from diplo_pipeline.lib.warehouse.thresholds import limit

ROOT = Path(__file__).resolve().parents[3]


QUARANTINE_CHECK = "raw/wandb_runs:no_quarantined_wandb_records"


def killed_files_ending_inside_a_record(inbox: Path) -> list[str]:
    """The files of killed processes (the crashed run, the resumed run's first process) that end inside a record."""
    manifest = json.loads((inbox / "manifest.json").read_text())
    return [
        file
        for run in manifest["runs"].values()
        if "processes" in run
        for process, file in zip(run["processes"], run["wandb_files"], strict=True)
        if process["killed"] and read_wandb_file(inbox / file).stats.tail == "truncated"
    ]


def test_the_demo_build_fails_exactly_its_planted_checks(demo):
    planted_failures = planted_check_failures()
    # Two processes are killed like a real trainer: whether a file ends inside the record being written
    # depends on when wandb-core last flushed a block. The quarantine check fails exactly when one did.
    truncated = killed_files_ending_inside_a_record(demo["inbox"])
    expected = set(planted_failures) - (set() if truncated else {QUARANTINE_CHECK})
    assert set(demo["report"].checks_failed) == expected
    meta = demo["report"].check_metadata
    # Each explanation is true of the build: the numbers it quotes are the numbers the checks measured.
    assert meta["marts/run_steps:grad_norm_below_50"]["actual"] == pytest.approx(planted.DIVERGENCE.grad_norm_spike)
    assert meta["marts/extraction_by_power:extraction_rate_above_0_95"]["actual"] == pytest.approx(
        planted.EXTRACTION_DROP.rate)
    # The operating targets' two planted misses: the extraction drop's burst of empty orders, the evaluation's
    # small batches (each the only hour missing its target).
    assert meta["marts/health_hourly:no_empty_orders_alert"]["actual"] > limit("empty_orders_alert_count")
    assert meta["marts/health_hourly:output_tps_at_least_50"]["actual"] < limit("output_tps_min")
    missed = demo["con"].execute(
        "select hour, targets_missed from health_hourly where len(targets_missed) > 0 order by hour").fetchall()
    assert {(hour.date(), tuple(names)) for hour, names in missed} == {
        (planted.EXTRACTION_DROP.day, ("empty_orders_alert",)), (planted.STARTS["evaluation"].date(), ("output_tps",))}
    failed = meta["marts/rollouts:no_failed_rollouts"]["actual"]
    assert planted_failures["marts/rollouts:no_failed_rollouts"].startswith(f"{failed:g} failed rollouts")
    errors = {rule for (rule,) in demo["con"].execute("select rule from findings where severity = 'error'").fetchall()}
    named = set(re.findall(r"[a-z]+(?:_[a-z]+)+", planted_failures["marts/findings:no_error_findings"]))
    assert named == errors and meta["marts/findings:no_error_findings"]["error_findings"] == 3


@pytest.fixture
def project(tmp_path) -> Path:
    """A folder holding the venv as `.venv` (a link to the one running the tests), as a checkout does."""
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    return tmp_path


def commands_of(hints: list[str]) -> dict[str, str]:
    """`  catalog:  COMMAND` lines by their label; the unlabelled line under `CLI:` is the elo example."""
    found = {}
    for line in hints:
        labelled = re.match(r"\s*(\w+):\s+(.*)", line)
        found[labelled[1] if labelled else "elo"] = labelled[2] if labelled else line.strip()
    return found


def test_the_printed_commands_work_as_written(demo, project):
    commands = commands_of(demo_hints(demo["paths"], project / ".venv" / "bin", project))
    assert commands["catalog"].startswith(".venv/bin/duckdb ") and commands["CLI"].startswith(".venv/bin/")
    assert f"--data-dir {demo['paths'].data_dir}" in commands["CLI"]  # not this folder's ./data: say which
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = demo["plan"].runs.values()
    for key, shows in (("catalog", [run.name for run in runs]), ("CLI", [run.run_id for run in runs]),
                       ("elo", ["positive"])):
        done = subprocess.run(["bash", "-c", commands[key]], cwd=project, env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0 and any(text in done.stdout for text in shows), (commands[key], done.stderr)


def test_paths_inside_the_current_folder_are_printed_relative_to_it(project, monkeypatch):
    monkeypatch.delenv("DIPLO_DATA_DIR", raising=False)
    paths = DataPaths.from_env(project / "data")
    hints = "\n".join(demo_hints(paths, project / ".venv" / "bin", project))
    assert ".venv/bin/duckdb data/warehouse.duckdb -readonly" in hints
    assert "--data-dir" not in hints  # a plain `diplo` here finds ./data by itself
    assert "data/reports/tracker.md" in hints and str(project) not in hints
