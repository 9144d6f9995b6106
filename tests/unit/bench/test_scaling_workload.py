"""The scaling bench's run copies (bench/wandb_copy.py): what the project's reader reads back from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.wandb_copy import CopySpec, append_records, append_step, copy_run, read_records, write_log
from diplo_pipeline.demo.sdk import run_in_subprocess
from diplo_pipeline.lib.wandb.log_format import BLOCK_SIZE, CHUNK_HEADER, HEADER_LEN, ReadStats, iter_raw_records
from diplo_pipeline.lib.wandb.run_tables import discover_runs, read_run
from tests.helpers import sdk_runs

STEPS = 12
METRICS_PER_ROW = 9  # sdk_runs._row: eight benchmark/* values and power_law/simulated_years_per_step
NAME = "grpo-20251222-190000"


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sdk")
    run_in_subprocess(sdk_runs.simple_run, str(root), "orig0001", NAME, STEPS, {"tags": ["plain"]})
    (path,) = root.glob("wandb/offline-run-*-orig0001/run-orig0001.wandb")
    return path


def _read(root: Path, run_id: str):
    tables = read_run(discover_runs([root])[run_id])
    return tables.runs.to_pylist()[0], tables.metric_points


def test_a_copy_reads_back_as_a_new_run_with_the_same_points(original, tmp_path):
    spec = CopySpec("copy0001", "grpo-20260101-000000", tags=("scale000-B",), config={"seed": 7, "extra": "x"})
    copied = copy_run(original, tmp_path / "wandb", spec, "20260101_000000")

    assert copied == tmp_path / "wandb" / "offline-run-20260101_000000-copy0001" / "run-copy0001.wandb"
    stats = ReadStats()
    assert len(list(iter_raw_records(copied.read_bytes(), stats))) == len(read_records(original))
    assert not stats.damage and stats.end_offset == copied.stat().st_size
    assert set(discover_runs([tmp_path])) == {"copy0001"}
    run, points = _read(tmp_path, "copy0001")
    _, original_points = _read(original.parent, "orig0001")
    assert points.num_rows == original_points.num_rows == STEPS * METRICS_PER_ROW
    assert set(points.column("run_id").to_pylist()) == {"copy0001"}
    assert sorted(points.column("value").to_pylist()) == sorted(original_points.column("value").to_pylist())
    assert (run["run_name"], run["tags"], run["state"]) == ("grpo-20260101-000000", ["scale000-B"], "finished")
    assert (run["sweep_name"], run["sweep_run_letter"]) == ("scale000", "B")
    assert '"seed": 7' in run["config"] and '"extra": "x"' in run["config"]
    assert b"orig0001" not in copied.read_bytes() and NAME.encode() not in copied.read_bytes()


def test_a_running_copy_takes_one_more_step(original, tmp_path):
    copied = copy_run(original, tmp_path / "wandb", CopySpec("live0001", "grpo-20260101-000100", running=True),
                      "20260101_000100")
    run, points = _read(tmp_path, "live0001")
    assert run["state"] == "running" and run["last_step"] == STEPS - 1  # no exit record, written just now
    assert "exit" not in {r.WhichOneof("record_type") for r in read_records(copied)}

    assert append_step(copied) == STEPS
    grown, more = _read(tmp_path, "live0001")
    assert grown["last_step"] == STEPS and grown["steps_logged"] == STEPS + 1
    assert more.num_rows == points.num_rows + METRICS_PER_ROW


@pytest.mark.parametrize("end_gap", [0, 3, 7, 20])
def test_frames_cross_blocks_and_append_at_any_offset(tmp_path, end_gap):
    """A record larger than a block, appended to a file that ends `end_gap` bytes before a block's end (under 7:
    the block trailer the writer pads), reads back whole and in order after the first."""
    first = b"a" * (BLOCK_SIZE - HEADER_LEN - CHUNK_HEADER - end_gap)
    path = write_log(tmp_path / "run-frame001.wandb", [first])
    assert path.stat().st_size == BLOCK_SIZE - end_gap
    payloads = [first, b"b" * (3 * BLOCK_SIZE), b"c"]
    append_records(path, payloads[1:])
    stats = ReadStats()
    assert list(iter_raw_records(path.read_bytes(), stats)) == payloads
    assert not stats.damage and stats.tail == "clean"
