"""A run that is still training: read while it grows, refreshed without re-reading what was read."""

from __future__ import annotations

import multiprocessing
import time

import pyarrow.compute as pc

from diplo_pipeline.lib.wandb import offline
from diplo_pipeline.lib.wandb.run_tables import read_run
from tests.helpers import sdk_runs


def test_growing_run_is_running_then_refreshed_incrementally(data_env, tmp_path):
    signals = tmp_path / "signals"
    signals.mkdir()
    writer = multiprocessing.get_context("spawn").Process(
        target=sdk_runs.growing_run, args=(str(data_env.wandb_dirs[0]), "live0001", str(signals))
    )
    writer.start()
    try:
        deadline = time.monotonic() + 120
        while not (signals / "ready").exists():
            assert writer.is_alive() and time.monotonic() < deadline, "the writer never got going"
            time.sleep(0.1)
        run = offline.discover(data_env)["live0001"]
        first = offline.ingest_run(data_env, run)
        info = first.runs.to_pylist()[0]
        assert info["state"] == "running" and info["last_step"] == 19 and not first.incremental
        # wandb-core writes whole blocks, so a live file may end inside a record that continues in the
        # next block: that is the record in progress, not damage, and nothing is quarantined for it.
        assert info["tail_status"] in ("clean", "truncated") and info["corrupt_records"] == 0
        assert first.quarantined == []
        (signals / "go").touch()
        writer.join(timeout=120)
        assert writer.exitcode == 0
    finally:
        writer.kill()

    run = offline.discover(data_env)["live0001"]
    assert [c.run_id for c in offline.pending_changes(data_env, {"live0001": run})] == ["live0001"]
    second = offline.ingest_run(data_env, run)
    assert second.incremental  # only the records written since the first read were parsed
    info = second.runs.to_pylist()[0]
    assert info["state"] == "finished" and info["last_step"] == 39 and info["steps_logged"] == 40

    # The incremental result is exactly what a full read of the finished file gives.
    full = read_run(run)
    assert not full.incremental
    for table in ("metric_points", "config", "summary"):
        assert getattr(second, table).equals(getattr(full, table)), table
    steps = second.metric_points.filter(pc.equal(second.metric_points["key"], "benchmark/step"))["step"]
    assert steps.to_pylist() == list(range(40))
