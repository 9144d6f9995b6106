"""Same inputs, same marts: two builds of one inbox write byte-identical files (README "Deterministic")."""

from __future__ import annotations

import hashlib
import math
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


def _digests(lake: Path) -> dict[str, str]:
    return {
        str(path.relative_to(lake)): hashlib.sha256(path.read_bytes()).hexdigest()
        for layer in ("intermediate", "marts")
        for path in sorted((lake / layer).rglob("*")) if path.is_file()  # partitioned tables: a folder each
    }


def test_two_builds_of_the_same_inbox_write_byte_identical_marts(demo_catalog, tmp_path, monkeypatch):
    inbox = demo_catalog["inbox"]
    again = DataPaths(tmp_path / "data", (inbox / "wandb",), (inbox / "axiom",), inbox / "sweeps")
    for name, value in {"DIPLO_DATA_DIR": again.data_dir, "DIPLO_WANDB_DIR": inbox / "wandb",
                        "DIPLO_AXIOM_DIR": inbox / "axiom", "DIPLO_SWEEP_DIR": inbox / "sweeps"}.items():
        monkeypatch.setenv(name, str(value))  # what the assets read (defs/resources.py)
    with dg.DagsterInstance.ephemeral() as instance:  # a separate instance: nothing is shared but the inbox
        build(defs(), instance, again)
    first, second = _digests(demo_catalog["paths"].lake), _digests(again.lake)
    assert {"marts/rollout_timing.parquet", "marts/findings.parquet", "marts/power_law_fits.parquet"} <= set(first)
    # the per-run tables: one file per run
    runs = {Path(name).stem for name in first if name.startswith("marts/run_steps/")}
    assert len(runs) >= 10 and all(f"{folder}/{run}.parquet" in first for run in runs for folder in (
        "marts/run_steps", "marts/elo_gap", "intermediate/int_wandb__rating_points"))
    assert set(first) == set(second)
    assert [name for name in first if first[name] != second[name]] == []


RUN = "grpo-20251222-190000"


def test_tied_checkpoints_the_later_one_is_best_with_its_own_band(data_env, instance):
    """adapter_v0 and adapter_v4 stand on the same Elo at every step; by the documented rule the later
    checkpoint is the best one, and the band is built from its sigma (5), not the other's (2)."""
    run_in_subprocess(sdk_runs.tied_checkpoints_run, str(data_env.wandb_dirs[0]), "ties0001", RUN)
    set_mtime(data_env.wandb_dirs[0], sdk_runs.START + 86400)
    build(defs(), instance, data_env)
    with duckdb_session(data_env.catalog, read_only=True) as con:
        gaps = con.execute(
            "select step, best_checkpoint, elo_gap, elo_gap_ci_high from elo_gap order by step"
        ).fetchall()
        learning = con.execute("select best_checkpoint from run_learning").fetchall()
    assert [step for step, *_ in gaps] == list(range(4, 10))
    assert {best for _, best, _, _ in gaps} == {f"{RUN}/adapter_v4"}
    for step, _, gap, high in gaps:
        assert gap == 40.0 + step
        assert high - gap == pytest.approx(1.96 * 40 * math.sqrt(5.0**2 + 1.0**2))
    assert learning == [(f"{RUN}/adapter_v4",)]
