"""The fingerprint that lets a build with nothing new skip everything downstream (lib/warehouse/build_state.py):
it changes with every input the downstream phases read, and only with those."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.warehouse import build_state


@pytest.fixture
def lake(tmp_path: Path) -> tuple[DataPaths, tuple[Path, Path]]:
    paths = DataPaths(tmp_path / "data", (tmp_path / "wandb",), (tmp_path / "axiom",), tmp_path / "sweeps")
    (paths.raw / "wandb" / "runs").mkdir(parents=True)
    (paths.raw / "wandb" / "runs" / "r1.parquet").write_bytes(b"run one")
    paths.sweep_dir.mkdir()
    (paths.sweep_dir / "sweep.yaml").write_text("name: lr\n")
    code = tmp_path / "code"
    (code / "marts").mkdir(parents=True)
    (code / "marts" / "runs.sql").write_text("select 1\n")
    package = tmp_path / "package"
    package.mkdir()
    (package / "rules.py").write_text("LIMIT = 1\n")
    return paths, (package, code)


def test_the_same_inputs_give_the_same_fingerprint(lake):
    paths, code = lake
    assert build_state.downstream_inputs(paths, code) == build_state.downstream_inputs(paths, code)


@pytest.mark.parametrize("change", ["raw file rewritten", "raw file added", "sweep edited", "sql edited",
                                    "python edited", "setting changed"])
def test_each_input_changes_the_fingerprint(lake, change, monkeypatch):
    paths, (package, code) = lake
    before = build_state.downstream_inputs(paths, (package, code))
    run = paths.raw / "wandb" / "runs" / "r1.parquet"
    if change == "raw file rewritten":
        os.utime(run, ns=(run.stat().st_atime_ns, run.stat().st_mtime_ns + 1_000_000))
    elif change == "raw file added":
        shutil.copy(run, run.with_name("r2.parquet"))
    elif change == "sweep edited":
        (paths.sweep_dir / "sweep.yaml").write_text("name: lr2\n")
    elif change == "sql edited":
        (code / "marts" / "runs.sql").write_text("select 2\n")
    elif change == "python edited":
        (package / "rules.py").write_text("LIMIT = 2\n")
    else:
        monkeypatch.setenv("DIPLO_ROLLOUT_SOMETHING", "1")
    assert build_state.downstream_inputs(paths, (package, code)) != before


def test_what_the_downstream_run_writes_itself_does_not_count(lake):
    """raw/sweeps/definitions.parquet is written by the sweeps asset in the downstream run, from the sweep
    files (which count): counting it too would make every second build look changed."""
    paths, code = lake
    before = build_state.downstream_inputs(paths, code)
    (paths.raw / "sweeps").mkdir()
    (paths.raw / "sweeps" / "definitions.parquet").write_bytes(b"from the sweep files")
    assert build_state.downstream_inputs(paths, code) == before


def test_a_record_is_reused_only_for_its_inputs_and_while_the_catalog_exists(lake):
    paths, code = lake
    inputs = build_state.downstream_inputs(paths, code)
    build_state.record_build(paths, inputs, {"table_rows": {"runs": 1}})
    assert build_state.unchanged_since_last_build(paths, inputs) is None  # no catalog yet
    paths.catalog.parent.mkdir(parents=True, exist_ok=True)
    paths.catalog.write_bytes(b"")
    assert build_state.unchanged_since_last_build(paths, inputs) == {"table_rows": {"runs": 1}}
    assert build_state.unchanged_since_last_build(paths, "other inputs") is None
    build_state.forget_build(paths)
    assert build_state.unchanged_since_last_build(paths, inputs) is None


@pytest.mark.parametrize("setting", ["DIPLO_DATA_DIR", "DIPLO_WANDB_DIR", "DIPLO_AXIOM_DIR", "DIPLO_SWEEP_DIR"])
def test_where_a_host_keeps_its_files_does_not_change_the_fingerprint(lake, setting, monkeypatch):
    """Two hosts sharing a bucket set their own data dir and inboxes; downstream reads neither, so they must
    agree on what is up to date (else the second host rebuilds the whole warehouse the first just built)."""
    paths, code = lake
    monkeypatch.setenv(setting, "/host-a/somewhere")
    before = build_state.downstream_inputs(paths, code)
    monkeypatch.setenv(setting, "/host-b/elsewhere")
    assert build_state.downstream_inputs(paths, code) == before
    assert build_state.code_and_settings(code) == build_state.code_and_settings(code)


def test_with_the_lake_in_a_bucket_the_build_record_is_the_hosts_own(lake):
    """The record says this host's catalog and reports are complete, so it lives in the host's data dir, not
    in the bucket where another host would find it."""
    paths, code = lake
    shared = dataclasses.replace(paths, lake_url="s3://bucket/team")
    assert build_state.state_path(shared) == paths.data_dir / "_state" / "last_build.json"
    assert build_state.state_path(paths) == paths.data_dir / "lake" / "_state" / "last_build.json"
