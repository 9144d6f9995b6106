"""Planning the requested run partitions (offline, live, skip, remove) and ingesting the plan, without Dagster.

Offline runs are written by the real SDK; the live runs sit on the loopback WandB server
(tests/helpers/loopback/wandb_server.py) and are listed through the real `wandb.Api`.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from diplo_pipeline.demo.sdk import run_in_subprocess
from diplo_pipeline.lib.wandb import api_sync, offline
from diplo_pipeline.lib.wandb.api_client import WandbApiSource
from diplo_pipeline.lib.wandb.api_settings import WandbApiSettings
from diplo_pipeline.lib.wandb.run_partitions import RunPlan, ingest_run_plan, plan_run_partitions
from tests.helpers import sdk_runs
from tests.helpers.loopback.wandb_server import FakeRun, FakeWandb

KEY = "0ff1ce0ff1" * 4  # 40 characters, like a real key
START = sdk_runs.START
REQUESTED = ["gone0001", "live0001", "offl0001", "offl0002"]


@pytest.fixture(scope="module")
def sdk_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sdk")
    run_in_subprocess(sdk_runs.simple_run, str(root), "offl0001", "grpo-20251222-190000", 4)
    run_in_subprocess(sdk_runs.simple_run, str(root), "offl0002", "grpo-20251222-200000", 6)
    return root


@pytest.fixture
def cloud(tmp_path, monkeypatch):
    """The loopback WandB with one finished run of five steps; the SDK's folders inside tmp_path."""
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        (tmp_path / name.lower()).mkdir()
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    with FakeWandb(KEY) as fake:
        rows = [{"_step": s, "_timestamp": START + s, "benchmark/loss": 1.0 / (s + 1)} for s in range(5)]
        fake.put(FakeRun("live0001", "grpo-20251223-090000", "finished", START, START + 5, rows=rows))
        yield fake


def source_for(fake: FakeWandb) -> WandbApiSource:
    settings = WandbApiSettings(entity=fake.entity, project=fake.project, base_url=fake.url)
    return WandbApiSource(KEY, settings, wait_base_s=0.1)


@pytest.fixture
def lake(data_env, sdk_dir, cloud):
    """offl0001 read before and unchanged since, offl0002 new, live0001 listed and never fetched, gone0001
    in no folder and no listing (a run whose files were deleted)."""
    shutil.copytree(sdk_dir, data_env.wandb_dirs[0], dirs_exist_ok=True, symlinks=True)
    discovered = offline.discover(data_env)
    offline.ingest_run(data_env, discovered["offl0001"], now=time.time() + 10_000)
    api_sync.refresh_listing(source_for(cloud), data_env)
    return data_env


def ids(plan: RunPlan) -> dict[str, list[str]]:
    return {"read_offline": [run.run_id for run in plan.read_offline], "fetch_live": plan.fetch_live,
            "skip": plan.skip, "remove": plan.remove}


def test_each_requested_run_goes_to_exactly_one_list(lake):
    assert ids(plan_run_partitions(lake, REQUESTED, live_configured=False)) == {
        "read_offline": ["offl0002"], "fetch_live": [], "skip": ["live0001", "offl0001"], "remove": ["gone0001"],
    }
    assert ids(plan_run_partitions(lake, REQUESTED, live_configured=True)) == {
        "read_offline": ["offl0002"], "fetch_live": ["live0001"], "skip": ["offl0001"], "remove": ["gone0001"],
    }
    assert ids(plan_run_partitions(lake, REQUESTED, live_configured=True, force=True)) == {
        "read_offline": ["offl0001", "offl0002"], "fetch_live": ["live0001"], "skip": [], "remove": ["gone0001"],
    }


def test_offline_files_are_the_source_of_record_for_a_run_the_listing_also_knows(lake, cloud):
    twin = FakeRun("offl0002", "grpo-20251222-200000", "finished", START, START + 9, rows=[{"_step": 0}])
    cloud.put(twin)
    api_sync.refresh_listing(source_for(cloud), lake)
    assert "offl0002" in api_sync.api_run_ids(lake)
    plan = plan_run_partitions(lake, ["offl0002"], live_configured=True)
    assert ids(plan) == {"read_offline": ["offl0002"], "fetch_live": [], "skip": [], "remove": []}


def test_a_live_run_fetched_since_is_skipped_unless_forced(lake, cloud):
    ingest_run_plan(lake, plan_run_partitions(lake, ["live0001"], live_configured=True), lambda: source_for(cloud))
    assert ids(plan_run_partitions(lake, ["live0001"], live_configured=True))["skip"] == ["live0001"]
    assert ids(plan_run_partitions(lake, ["live0001"], live_configured=True, force=True))["fetch_live"] == ["live0001"]


def test_a_plan_without_live_runs_never_opens_the_live_source(lake, cloud):
    cloud.reset_log()

    def no_network():
        raise AssertionError("the live source was opened for a plan with nothing to fetch")

    done = ingest_run_plan(lake, plan_run_partitions(lake, REQUESTED, live_configured=False), no_network)
    assert (done.read, done.removed, done.skipped) == (["offl0002"], ["gone0001"], ["live0001", "offl0001"])
    assert cloud.requests == []
    points = pq.read_table(lake.raw / "wandb" / "metric_points" / "offl0002.parquet")
    assert done.metric_points == points.num_rows > 0
    assert not (lake.raw / "wandb" / "runs" / "gone0001.parquet").exists()


def test_ingesting_the_plan_lands_what_it_can_and_names_what_failed(lake, cloud):
    # A run listed, then deleted in WandB before it could be fetched: WandB no longer returns it.
    cloud.put(FakeRun("live0003", "grpo-20251223-100000", "finished", START, START + 7, rows=[{"_step": 0}]))
    api_sync.refresh_listing(source_for(cloud), lake)
    with cloud.lock:
        del cloud.runs["live0003"]
    plan = plan_run_partitions(lake, [*REQUESTED, "live0003"], live_configured=True)
    assert plan.fetch_live == ["live0001", "live0003"]

    done = ingest_run_plan(lake, plan, lambda: source_for(cloud))

    assert done.read == ["offl0002", "live0001"] and done.removed == ["gone0001"]
    assert list(done.failed) == ["live0003"] and "no longer returns it" in done.failed["live0003"]
    live_points = pq.read_table(lake.raw / "wandb" / "metric_points" / "live0001.parquet")
    assert live_points.column("key").to_pylist().count("benchmark/loss") == 5  # the planted five steps
    summary = {row["run_id"]: row for row in done.summary}
    assert summary["live0001"]["source"] == "api" and summary["live0001"]["metric_points"] == live_points.num_rows
    assert KEY not in repr(done)
