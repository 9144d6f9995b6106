"""Convergence, baselines, regressions and the tracker's sweep entries, planted in real WandB SDK runs and
found by a real build (WAREHOUSE.md run_convergence, run_baselines, regression_vs_baseline; README
"Convergence and baselines", "Experiment tracker").

The planted runs (tests/helpers/sdk_runs.league_run), all on Qwen2.5-7B unless said:
- tagd0001, tagged `baseline`: the default dynamics (elo_gap_50 at step 50, reward_mean_3 at 45, extraction
  from 20);
- near0001: the same dynamics, two config keys changed (kl_beta, entropy_coef): a healthy comparison;
- regr0001: near0001's config plus a 5x learning rate (one key from near0001, three from tagd0001): its gap
  grows 5x slower (never reaches 50), its reward 2x slower and its KL max explodes (50) — a regression;
- othr0001: tagd0001's config on Qwen2.5-14B, tagged `baseline`: another base model, never anyone's baseline.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import dagster as dg
import pytest

from diplo_pipeline.build import build
from diplo_pipeline.definitions import defs
from diplo_pipeline.demo.sdk import run_in_subprocess
from diplo_pipeline.lib.lake.duck import duckdb_session
from diplo_pipeline.lib.settings import DataPaths
from tests.helpers import sdk_runs
from tests.helpers.files import set_mtime

pytestmark = pytest.mark.slow  # builds; tests/conftest.py schedules slow modules first

STEPS = 80
NAMES = {"tagd0001": "grpo-20251222-100000", "near0001": "grpo-20251222-110000",
         "regr0001": "grpo-20251222-120000", "othr0001": "grpo-20251222-130000"}
NEAR = {"kl_beta": 0.02, "entropy_coef": 0.02}
PLANS = {
    "tagd0001": {"tags": ["baseline"]},
    "near0001": {"config": NEAR, "start": sdk_runs.START + 3600},
    "regr0001": {"config": {**NEAR, "learning_rate": 5e-5}, "start": sdk_runs.START + 7200,
                 "gap_per_step": 0.2, "reward_per_step": 1 / 80, "kl_max": 50.0},
    "othr0001": {"config": {"base_model_id": "Qwen/Qwen2.5-14B-Instruct"}, "tags": ["baseline"],
                 "start": sdk_runs.START + 10800},
}
PLANNED_SWEEP = """\
metadata:
  name: planned-ablation
  description: Does a longer horizon help?
  hypothesis: Six-year rollouts teach the endgame the four-year ones never reach.
  experiment_tag_prefix: planned-ablation
  created: '2025-12-28'
defaults: {total_steps: 100}
runs:
  A: {name: baseline, description: four years, config: {rollout_horizon_years: 4}}
  B: {name: long, description: six years, config: {rollout_horizon_years: 6}}
"""
NOTES = """\
# planned-ablation notes (hand-written)

## Key learnings
- Horizon matters less than *group size* so far.

## Root cause
Not known yet.
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("baselines")
    inbox = root / "inbox"
    paths = DataPaths(root / "data", (inbox / "wandb",), (inbox / "axiom",), inbox / "sweeps")
    for folder in (*paths.wandb_dirs, *paths.axiom_dirs, paths.sweep_dir / "planned-ablation"):
        folder.mkdir(parents=True)
    (paths.sweep_dir / "planned-ablation" / "sweep.yaml").write_text(PLANNED_SWEEP)
    notes = paths.sweep_dir / "planned-ablation" / "notes.md"
    notes.write_text(NOTES)
    for run_id, plan in PLANS.items():
        run_in_subprocess(sdk_runs.league_run, str(paths.wandb_dirs[0]), run_id, NAMES[run_id], STEPS, plan)
    set_mtime(paths.wandb_dirs[0], sdk_runs.START + 86400)
    env = {"DIPLO_DATA_DIR": paths.data_dir, "DIPLO_WANDB_DIR": paths.wandb_dirs[0],
           "DIPLO_AXIOM_DIR": paths.axiom_dirs[0], "DIPLO_SWEEP_DIR": paths.sweep_dir}
    with pytest.MonkeyPatch.context() as patch, dg.DagsterInstance.ephemeral() as instance:
        for name, value in env.items():
            patch.setenv(name, str(value))  # what the assets read (defs/resources.py)
        build(defs(), instance, paths)
        first_tracker = (paths.reports / "tracker.md").read_text()
        # A person edits the notes between builds: the next build shows the edit, and never rewrites the file.
        edited = NOTES + "\n## Follow-up\nLaunch it after the group-size sweep.\n"
        notes.write_text(edited)
        build(defs(), instance, paths)
    yield {"paths": paths, "notes": notes, "edited": edited, "first_tracker": first_tracker}


def _rows(built, sql: str) -> list[dict]:
    with duckdb_session(built["paths"].catalog, read_only=True) as con:
        relation = con.sql(sql)
        return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def test_a_run_reaches_each_target_at_its_planted_step(built):
    reached = {row["target"]: row for row in _rows(built, "select * from run_convergence where run_id = 'tagd0001'")}
    assert set(reached) == {"elo_gap_50", "elo_gap_100", "reward_mean_3", "reward_mean_4", "extraction_rate_0_95"}
    assert reached["elo_gap_50"]["step_reached"] == 50 and reached["elo_gap_50"]["value_at_step"] == 50.0
    assert reached["elo_gap_50"]["simulated_years_reached"] == 563.0 * 51
    assert reached["reward_mean_3"]["step_reached"] == 45  # the trailing 10-step mean, not one noisy step
    assert reached["extraction_rate_0_95"]["step_reached"] == 20
    for never in ("elo_gap_100", "reward_mean_4"):  # an 80-step run: gap 79 at most, the mean 3.86
        assert reached[never]["step_reached"] is None and reached[never]["simulated_years_reached"] is None
    assert reached["elo_gap_100"]["best_value"] == 79.0
    slow = {row["target"]: row["step_reached"] for row in _rows(
        built, "select * from run_convergence where run_id = 'regr0001'")}
    assert slow["elo_gap_50"] is None and slow["extraction_rate_0_95"] == 20


def test_the_tagged_baseline_is_preferred_and_the_base_model_must_match(built):
    chosen = {row["run_id"]: row for row in _rows(built, "select * from run_baselines")}
    # regr0001 is one key from near0001 and three from tagd0001: the tagged one wins.
    assert chosen["regr0001"]["baseline_run_id"] == "tagd0001"
    assert chosen["regr0001"]["selection"] == "tagged_baseline"
    assert json.loads(chosen["regr0001"]["differing_keys"]) == {
        "entropy_coef": [0.02, None], "kl_beta": [0.02, 0.0], "learning_rate": [5e-5, 1e-5]}
    assert chosen["near0001"]["baseline_run_id"] == "tagd0001"
    # tagd0001's own baseline: no other tagged run on its base model, so the nearest config (2 keys, not 3).
    assert (chosen["tagd0001"]["baseline_run_id"], chosen["tagd0001"]["selection"]) == ("near0001", "nearest_config")
    assert chosen["tagd0001"]["differing_key_count"] == 2
    # othr0001 (14B) has no run on its base model, and is nobody's baseline though tagged and identical.
    assert "othr0001" not in chosen and "othr0001" not in {row["baseline_run_id"] for row in chosen.values()}


def test_a_regression_is_significant_and_a_healthy_comparison_is_not(built):
    chosen = {row["run_id"]: row for row in _rows(built, "select * from run_baselines")}
    regr, near = chosen["regr0001"], chosen["near0001"]
    assert regr["final_elo_gap_change"] == pytest.approx(0.2 * 79 - 79)
    assert regr["final_elo_gap_change_ci_high"] < 0 and regr["final_elo_gap_significant"] is True
    assert regr["final_reward_significant"] is True and regr["final_reward_change"] < 0
    assert regr["kl_max_significant"] is True  # 50 against 2, across kl_max_limit 10
    assert (regr["steps_to_target"], regr["baseline_steps_to_target"], regr["steps_to_target_significant"]) == (
        None, 50, True)
    assert regr["trajectories_per_s_significant"] is False  # the same 8 per second
    for column in ("final_elo_gap", "final_reward", "kl_max", "trajectories_per_s", "steps_to_target"):
        assert near[f"{column}_significant"] is False, column
    findings = _rows(built, "select run_id, rule, severity, value, threshold, message from findings "
                            "where rule = 'regression_vs_baseline' order by run_id, message")
    assert {row["run_id"] for row in findings} == {"regr0001"}
    assert len(findings) == 4 and {row["severity"] for row in findings} == {"warn"}
    assert any("KL max 50" in row["message"] and row["threshold"] == 2.0 for row in findings)
    assert any(f"reached elo_gap_50 at step 50; this run never did, though it ran to step {STEPS - 1}"
               in row["message"] for row in findings)


def test_diplo_compare_baseline_picks_it_and_says_what_got_worse(built, monkeypatch, capsys):
    from diplo_pipeline import cli

    monkeypatch.setenv("DIPLO_DATA_DIR", str(built["paths"].data_dir))
    assert cli.main(["compare", NAMES["regr0001"], "--baseline", "-m", "benchmark/reward_mean",
                     "--format", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["baseline"]["run_name"] == NAMES["tagd0001"]
    assert answer["baseline"]["selection"] == "tagged_baseline"
    assert set(answer["differing_keys"]) == {"entropy_coef", "kl_beta", "learning_rate"}
    assert answer["regressions"] == ["final_elo_gap", "final_reward", "kl_max", "steps_to_target"]
    assert [r["run_name"] for r in answer["comparison"]["benchmark/reward_mean"]] == [
        NAMES["regr0001"], NAMES["tagd0001"]]
    assert cli.main(["compare", NAMES["near0001"], "--baseline", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["regressions"] == []
    assert cli.main(["compare", NAMES["othr0001"], "--baseline"]) == 2
    assert "has no baseline" in capsys.readouterr().err
    assert cli.main(["compare", NAMES["regr0001"], NAMES["near0001"], "--baseline"]) == 2
    assert "exactly one RUN" in capsys.readouterr().err


def test_a_sweep_with_no_runs_is_planned_and_its_notes_survive_rebuilds(built):
    tracker = (built["paths"].reports / "tracker.md").read_text()
    entry = tracker.split("## Sweep planned-ablation\n", 1)[1].split("\n## ", 1)[0]
    assert "- **Status:** planned" in entry
    assert "Six-year rollouts teach the endgame" in entry
    assert "`rollout_horizon_years: 6`" in entry and "run: none yet" in entry
    assert "diplo sweep planned-ablation --format json" in entry
    assert "Horizon matters less than \\*group size\\* so far." in entry  # the person's words, escaped
    assert "Not known yet." in entry
    assert "Launch it after the group-size sweep." in entry  # the edit made between builds
    assert "not written yet" in built["first_tracker"].split("## Sweep planned-ablation\n", 1)[1].split("\n## ")[0]
    assert built["notes"].read_text() == built["edited"]  # read, never written
    # The run entries say how each run did against its baseline.
    regr = tracker.split(f"## {NAMES['regr0001']}\n", 1)[1].split("\n## ", 1)[0]
    assert f"Against baseline `{NAMES['tagd0001']}` (tagged baseline; 3 config keys differ" in regr
    # Elo to the point, as on every page; small values keep two decimals
    assert "final Elo gap \N{MINUS SIGN}63 \\[\N{MINUS SIGN}79, \N{MINUS SIGN}48\\] significant" in regr, regr
    assert re.search(r"final reward \N{MINUS SIGN}0\.9\d \\\[", regr), regr


def test_regression_findings_land_in_the_catalog_views(built):
    tables = {row["table_name"] for row in _rows(built, "select table_name from information_schema.tables")}
    assert {"run_convergence", "run_baselines"} <= tables
    assert Path(built["paths"].lake / "marts" / "run_convergence").is_dir()  # per run, one file each
