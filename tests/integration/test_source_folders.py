"""Source folders that are missing or empty are named with the variable that sets them (README "Point it at
your own data"); a folder the user named that does not exist stops `diplo build` before anything is built."""

from __future__ import annotations

import json

import pytest

from diplo_pipeline import cli
from diplo_pipeline.lib.lake.duck import duckdb_session
from diplo_pipeline.lib.settings import SOURCE_VARIABLES, DataPaths
from diplo_pipeline.lib.source_folders import folder_problems

pytestmark = pytest.mark.slow  # builds; tests/conftest.py schedules slow modules first

EVENT = {"_time": "2025-12-22T19:14:08Z", "event": "rollout_start", "rollout_id": "g1"}


@pytest.fixture
def diplo_build(tmp_path, monkeypatch, capsys):
    """`diplo build` in a fresh working directory with its own Dagster home; returns (code, stderr)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("DIPLO_DATA_DIR", str(tmp_path / "data"))
    for name in SOURCE_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def run() -> tuple[int, str]:
        code = cli.main(["build"])
        return code, " ".join(capsys.readouterr().err.split())

    return run


def test_missing_default_inboxes_are_warnings_naming_each_folder_and_its_variable(tmp_path, diplo_build):
    code, err = diplo_build()
    inbox = tmp_path / "data" / "inbox"
    assert code == 0 and "0 runs found" in err
    for folder, variable in (("wandb", "DIPLO_WANDB_DIR"), ("axiom", "DIPLO_AXIOM_DIR"),
                             ("sweeps", "DIPLO_SWEEP_DIR")):
        assert f"no input: {inbox / folder} does not exist: it is the default; set {variable}" in err
    assert (tmp_path / "data" / "warehouse.duckdb").exists()  # an empty warehouse is still a warehouse


def test_empty_default_inbox_is_named_and_good_input_beside_it_is_built(tmp_path, diplo_build):
    inbox = tmp_path / "data" / "inbox"
    (inbox / "wandb" / "notes").mkdir(parents=True)  # exists, but holds no run
    (inbox / "axiom").mkdir()
    (inbox / "axiom" / "events.ndjson").write_text(json.dumps(EVENT) + "\n")
    code, err = diplo_build()
    assert code == 0
    assert f"no input: {inbox / 'wandb'} holds no WandB runs" in err and "set DIPLO_WANDB_DIR" in err
    assert str(inbox / "axiom") not in err  # it has an export: nothing to say about it
    with duckdb_session(tmp_path / "data" / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("select rollout_id from axiom_events").fetchall() == [("g1",)]


def test_an_explicit_folder_that_does_not_exist_stops_the_build(tmp_path, diplo_build, monkeypatch):
    typo = tmp_path / "runs" / "wnadb"
    (tmp_path / "runs" / "wandb").mkdir(parents=True)
    monkeypatch.setenv("DIPLO_WANDB_DIR", f"{tmp_path / 'runs' / 'wandb'}:{typo}")
    code, err = diplo_build()
    assert code == 2
    assert f"nothing built: {typo} does not exist, but DIPLO_WANDB_DIR names it" in err
    assert "Traceback" not in err
    assert not (tmp_path / "data").exists() and not (tmp_path / "dagster_home").exists()  # nothing at all


def test_an_explicit_empty_folder_is_a_warning_naming_the_variable(tmp_path, diplo_build, monkeypatch):
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "README.txt").write_text("exports go here\n")  # not an export file
    monkeypatch.setenv("DIPLO_AXIOM_DIR", str(exports))
    code, err = diplo_build()
    assert code == 0
    assert f"no input: {exports} holds no Axiom export files" in err and "(DIPLO_AXIOM_DIR names it)" in err


def test_a_live_source_makes_its_missing_default_folder_unremarkable(tmp_path):
    paths = DataPaths(tmp_path, (tmp_path / "inbox" / "wandb",), (tmp_path / "inbox" / "axiom",),
                      tmp_path / "inbox" / "sweeps")
    offline = {p.source.variable for p in folder_problems(paths)}
    live = {p.source.variable for p in folder_problems(paths, live_wandb=True, live_axiom=True)}
    assert offline == {"DIPLO_WANDB_DIR", "DIPLO_AXIOM_DIR", "DIPLO_SWEEP_DIR"}
    assert live == {"DIPLO_SWEEP_DIR"}
    named = DataPaths(tmp_path, (tmp_path / "gone",), paths.axiom_dirs, paths.sweep_dir,
                      explicit=frozenset({"DIPLO_WANDB_DIR"}))
    assert [p.is_error for p in folder_problems(named, live_wandb=True, live_axiom=True)
            if p.source.variable == "DIPLO_WANDB_DIR"] == [True]  # a folder named outright is still checked
