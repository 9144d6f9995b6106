"""`diplo artifacts RUN` and the artifact sections of `diplo run RUN` on the demo warehouse: the demo's standalone
evaluation run logs `eval/summary_table`, an HTML replay per opponent and the `eval-replays-adapter_v150`
artifact (diplo_pipeline/demo/legacy_rows.py), through the real SDK."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from diplo_pipeline.demo.planted_experiments import STANDALONE_EVAL


@pytest.fixture
def evaluation(demo):
    return demo["plan"].run("evaluation")


def test_artifacts_lists_the_replays_the_table_and_the_run_table_artifact(demo, diplo, evaluation):
    code, out, err = diplo("artifacts", evaluation.name, "--format", "json")
    assert code == 0, err
    answer = json.loads(out)
    assert (answer["run_id"], answer["run_name"]) == (evaluation.run_id, evaluation.name)
    by_name = {a["name"]: a for a in answer["artifacts"]}
    replays = by_name.pop(f"eval-replays-adapter_v{STANDALONE_EVAL.checkpoint_step}")
    assert (replays["type"], replays["direction"], replays["is_replay"], replays["version"]) == (
        "evaluation-replays", "logged", True, None)  # offline: numbered by the server at sync
    assert replays["version_or_digest"] == replays["digest"] and len(replays["digest"]) == 32
    assert replays["aliases"] == sorted(["latest", f"adapter_v{STANDALONE_EVAL.checkpoint_step}"])
    assert sorted(replays["files"]) == sorted(f"game_vs_{o}.html" for o in STANDALONE_EVAL.results)
    assert [a["type"] for a in by_name.values()] == ["run_table"]  # the summary table's own artifact

    ((table),) = answer["tables"]
    assert (table["key"], table["table_rows"]) == ("eval/summary_table", len(STANDALONE_EVAL.results))
    assert table["table_columns"] == ["opponent", "games", "win_rate", "survival_rate", "avg_centers"]
    html = [r for r in answer["replays"] if r["replay_source"] == "html"]
    assert sorted(r["opponent"] for r in html) == sorted(STANDALONE_EVAL.results)
    assert all(Path(r["local_path"]).is_file() for r in html)  # beside the run's .wandb file, in files/media/html


def test_artifacts_filters_by_type_and_speaks_csv_and_table(demo, diplo, evaluation):
    code, out, _ = diplo("artifacts", evaluation.run_id, "--type", "evaluation-replays", "--format", "csv")
    assert code == 0
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["name"] == f"eval-replays-adapter_v{STANDALONE_EVAL.checkpoint_step}"
    assert json.loads(row["files"]) == sorted(f"game_vs_{o}.html" for o in STANDALONE_EVAL.results)
    code, out, _ = diplo("artifacts", evaluation.run_id, "--format", "table")
    assert code == 0 and "eval-replays-adapter_v150" in out and "eval/summary_table" in out


def test_a_run_with_no_artifacts_answers_empty_lists(demo, diplo):
    healthy = demo["plan"].run("healthy")
    code, out, err = diplo("artifacts", healthy.name, "--format", "json")
    assert code == 0, err
    assert {k: v for k, v in json.loads(out).items() if k in ("artifacts", "tables", "replays")} == {
        "artifacts": [], "tables": [], "replays": []}
    code, out, _ = diplo("artifacts", healthy.name, "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("direction,name,type,version_or_digest")


def test_run_shows_its_artifacts_and_tables(demo, diplo, evaluation):
    code, out, err = diplo("run", evaluation.name, "--format", "json")
    assert code == 0, err
    answer = json.loads(out)
    assert sorted(a["type"] for a in answer["artifacts"]) == ["evaluation-replays", "run_table"]
    assert [(t["key"], t["table_rows"]) for t in answer["tables"]] == [("eval/summary_table", 2)]
    code, out, _ = diplo("run", evaluation.name, "--format", "csv")
    sections = {r["section"] for r in csv.DictReader(io.StringIO(out))}
    assert {"run", "config", "summary", "artifacts", "tables"} <= sections


def test_evaluations_of_the_demo_come_from_its_summary_table_once(demo, evaluation):
    got = demo["con"].execute("""
        select opponent, games, win_rate, survival_rate, avg_centers, logged_as from evaluations
        where run_id = $r order by opponent""", {"r": evaluation.run_id}).fetchall()
    assert got == sorted((opponent, STANDALONE_EVAL.games_per_opponent, *values, "table")
                         for opponent, values in STANDALONE_EVAL.results.items())
