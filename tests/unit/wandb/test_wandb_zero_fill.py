"""Zero-filled regions of a `.wandb` file are damage, counted and quarantined (issue 10, item 6).

Neither WandB writer pads with zeros anywhere but the block trailer (fewer than 7 bytes left in a 32 KiB
block), so zeros where a chunk should start mean lost records: a disk or a copy that never got the data.
The damage is planted in a file the real SDK wrote, from record boundaries (or a 4 KiB page that is not),
and the readable rows, the count and the quarantine entry are checked against what the file held.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from wandb.proto import wandb_internal_pb2 as pb

from diplo_pipeline.demo.sdk import run_in_subprocess
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.wandb import offline
from diplo_pipeline.lib.wandb.records import BLOCK_SIZE, ReadStats, iter_records, read_wandb_file
from diplo_pipeline.lib.wandb.run_tables import RunFiles, read_run
from tests.helpers import sdk_runs
from tests.helpers.wandb_log import frame, history_record, run_record

STEPS = 120  # about 90 KB: three blocks, with records split across block boundaries
RUN_ID = "zero0001"
LONG_AGO = sdk_runs.START + 86_400.0


@pytest.fixture(scope="module")
def sdk_file(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sdk")
    run_in_subprocess(sdk_runs.simple_run, str(root), RUN_ID, "grpo-20251222-200000", STEPS)
    return next(root.rglob(f"offline-run-*/run-{RUN_ID}.wandb"))


def records_of(buf: bytes) -> list[tuple[int, int, str, int | None]]:
    """(start, end, record type, history step) of every record in an intact file."""
    out, stats, record = [], ReadStats(), pb.Record()
    for offset, payload in iter_records(buf, stats):
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        step = None
        if kind == "history":
            items = record.history.item
            step = next(int(json.loads(i.value_json)) for i in items if list(i.nested_key) == ["benchmark/step"])
        out.append((offset, stats.end_offset, kind, step))
    return out


def steps_outside(records, lo: int, hi: int) -> list[int]:
    """History steps whose records do not touch bytes [lo, hi)."""
    return [step for start, end, kind, step in records if kind == "history" and (end <= lo or start >= hi)]


def planted(tmp_path: Path, data: bytes, mtime: float = LONG_AGO) -> Path:
    path = tmp_path / "wandb" / f"offline-run-x-{RUN_ID}" / f"run-{RUN_ID}.wandb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def quarantine_lines(paths: DataPaths) -> list[dict]:
    file = paths.quarantine / "wandb" / f"{RUN_ID}.ndjson"
    return [json.loads(line) for line in file.read_text().splitlines()] if file.exists() else []


def test_the_healthy_file_has_nothing_quarantined(sdk_file, tmp_path):
    buf = sdk_file.read_bytes()
    wf = read_wandb_file(sdk_file)
    assert [row["benchmark/step"] for row in wf.history] == list(range(STEPS))
    assert wf.stats.damage == [] and wf.stats.corrupt_records == 0 and wf.stats.tail == "clean"
    assert wf.stats.accounted_bytes() == len(buf)
    paths = DataPaths.from_env(tmp_path / "data")
    tables = offline.ingest_run(paths, RunFiles(RUN_ID, (planted(tmp_path, buf),)))
    assert tables.quarantined == [] and quarantine_lines(paths) == []
    info = tables.runs.to_pylist()[0]
    assert info["state"] == "finished" and info["corrupt_records"] == 0 and info["tail_status"] == "clean"


def test_a_zero_filled_tail_from_a_record_boundary_is_counted_and_quarantined(sdk_file, tmp_path):
    buf = sdk_file.read_bytes()
    records = records_of(buf)
    cut = next(start for start, _, kind, step in records if kind == "history" and step == 80)
    data = buf[:cut] + bytes(len(buf) - cut)  # zeros over step 80 onwards, the summary and the exit record
    wf = read_wandb_file(sdk_file, data=data)
    assert [row["benchmark/step"] for row in wf.history] == list(range(80))  # every readable row kept
    assert wf.exit_code is None  # the exit record was in the zeros
    assert wf.stats.tail == "zero_filled" and wf.stats.corrupt_records == 1
    [damage] = wf.stats.damage
    assert (damage.offset, damage.length, damage.kind) == (cut, len(buf) - cut, "zero_filled")
    assert wf.stats.accounted_bytes() == len(data)

    paths = DataPaths.from_env(tmp_path / "data")
    tables = offline.ingest_run(paths, RunFiles(RUN_ID, (planted(tmp_path, data),)), now=LONG_AGO + 3600)
    info = tables.runs.to_pylist()[0]
    assert info["corrupt_records"] == 1 and info["tail_status"] == "zero_filled"
    assert info["state"] == "crashed" and info["last_step"] == 79
    [entry] = quarantine_lines(paths)
    assert f"bytes {cut}-{len(buf)} ({len(buf) - cut} bytes) to the end of the file" in entry["reason"]
    assert "zeros where records should be" in entry["reason"] and "restore the file" in entry["reason"]


def test_a_zero_filled_span_in_the_middle_keeps_the_records_after_it(sdk_file, tmp_path):
    buf = sdk_file.read_bytes()
    records = records_of(buf)
    lo = next(start for start, _, kind, step in records if kind == "history" and step == 30)
    hi = next(start for start, _, kind, step in records if kind == "history" and step == 70)
    assert hi // BLOCK_SIZE > lo // BLOCK_SIZE  # the span crosses a block boundary
    data = buf[:lo] + bytes(hi - lo) + buf[hi:]
    wf = read_wandb_file(sdk_file, data=data)
    assert [row["benchmark/step"] for row in wf.history] == [*range(30), *range(70, STEPS)]
    assert wf.exit_code == 0 and wf.stats.tail == "clean"
    [damage] = wf.stats.damage
    assert (damage.offset, damage.end, damage.kind) == (lo, hi, "zero_filled")
    assert wf.stats.corrupt_records == 1 and wf.stats.accounted_bytes() == len(data)

    paths = DataPaths.from_env(tmp_path / "data")
    tables = offline.ingest_run(paths, RunFiles(RUN_ID, (planted(tmp_path, data),)))
    info = tables.runs.to_pylist()[0]
    assert info["corrupt_records"] == 1 and info["state"] == "finished"
    [entry] = quarantine_lines(paths)
    assert entry["reason"].startswith(f"bytes {lo}-{hi} ({hi - lo} bytes): zeros where records should be")
    assert "The records before and after it were read" in entry["reason"]


def test_a_zeroed_page_inside_records_loses_only_the_records_it_touches(sdk_file):
    """Disks lose whole 4 KiB pages, not records: reading picks up at the first intact chunk after it."""
    buf = sdk_file.read_bytes()
    lo = 2 * 4096 + 100  # not a record boundary
    hi = lo + 4096
    wf = read_wandb_file(sdk_file, data=buf[:lo] + bytes(hi - lo) + buf[hi:])
    records = records_of(buf)
    assert [row["benchmark/step"] for row in wf.history] == steps_outside(records, lo, hi)
    [damage] = wf.stats.damage
    first = next(start for start, end, _, _ in records if end > lo)  # the record the zeros cut into
    resumed = next(start for start, _, _, _ in records if start >= hi)  # the first one after them
    assert (damage.offset, damage.end, damage.kind) == (first, resumed, "zero_filled")
    assert f"zeros at bytes {lo}-{hi}" in damage.reason()


def test_block_trailer_padding_is_not_damage(tmp_path):
    """The one place writers put zeros: fewer than 7 bytes left in a block."""
    run = run_record("trailer1", "t", sdk_runs.START)
    head = len(frame([run.SerializeToString()]))
    pad = "x" * 100
    row = history_record([("benchmark/step", "0"), ("pad", json.dumps(pad))], step=0)
    # Grow the row until its chunk leaves exactly 3 bytes of the first block.
    while head + 7 + len(row.SerializeToString()) < BLOCK_SIZE - 3:
        pad += "x" * min(1000, BLOCK_SIZE - 3 - head - 7 - len(row.SerializeToString()))
        row = history_record([("benchmark/step", "0"), ("pad", json.dumps(pad))], step=0)
    assert head + 7 + len(row.SerializeToString()) == BLOCK_SIZE - 3
    data = frame([r.SerializeToString() for r in (run, row, history_record([("benchmark/step", "1")], 1))])
    assert data[BLOCK_SIZE - 3 : BLOCK_SIZE] == b"\0\0\0"
    wf = read_wandb_file(tmp_path / "x.wandb", data=data)
    assert [r["benchmark/step"] for r in wf.history] == [0, 1]
    assert wf.stats.damage == [] and wf.stats.padding_bytes == 3 and wf.stats.accounted_bytes() == len(data)


def test_a_live_file_whose_zeros_are_later_written_is_read_again_and_its_quarantine_clears(sdk_file, tmp_path):
    """A running run re-read from where it stopped: zeros at its end are reported while they are there,
    and the records that replace them are picked up by the incremental read."""
    buf = sdk_file.read_bytes()
    records = records_of(buf)
    cut = next(start for start, _, kind, step in records if kind == "history" and step == 100)
    paths = DataPaths.from_env(tmp_path / "data")
    path = planted(tmp_path, buf[:cut] + bytes(len(buf) - cut), mtime=time.time())
    run = RunFiles(RUN_ID, (path,))
    first = offline.ingest_run(paths, run)
    info = first.runs.to_pylist()[0]
    assert info["state"] == "running" and info["last_step"] == 99 and info["corrupt_records"] == 1
    [entry] = quarantine_lines(paths)
    assert f"bytes {cut}-{len(buf)}" in entry["reason"] and "still being written" in entry["reason"]

    shutil.copyfile(sdk_file, path)  # the writer filled the space
    second = offline.ingest_run(paths, RunFiles(RUN_ID, (path,)))
    assert second.incremental  # read from where the first read stopped
    info = second.runs.to_pylist()[0]
    assert info["state"] == "finished" and info["corrupt_records"] == 0 and info["tail_status"] == "clean"
    assert info["last_step"] == STEPS - 1 and info["steps_logged"] == STEPS
    assert quarantine_lines(paths) == []  # the entry is gone with the zeros
    assert second.metric_points.equals(read_run(RunFiles(RUN_ID, (path,))).metric_points)


def test_a_damaged_file_is_read_whole_again_so_its_damage_is_never_forgotten(sdk_file, tmp_path):
    """A running run with zeros in its middle: the next ingest cannot resume after the damage (it would
    not see it again), so it reads the file whole and reports the damage again, until it is repaired."""
    buf = sdk_file.read_bytes()
    records = records_of(buf)
    lo = next(start for start, _, kind, step in records if kind == "history" and step == 10)
    hi = next(start for start, _, kind, step in records if kind == "history" and step == 20)
    cut = next(start for start, _, kind, step in records if kind == "history" and step == 60)
    live = buf[:lo] + bytes(hi - lo) + buf[hi:cut]
    paths = DataPaths.from_env(tmp_path / "data")
    path = planted(tmp_path, live, mtime=time.time())
    offline.ingest_run(paths, RunFiles(RUN_ID, (path,)))
    path.write_bytes(buf[:lo] + bytes(hi - lo) + buf[hi:])  # it grows: the damage is still there
    grown = offline.ingest_run(paths, RunFiles(RUN_ID, (path,)))
    assert not grown.incremental and grown.runs.to_pylist()[0]["corrupt_records"] == 1
    assert len(quarantine_lines(paths)) == 1
    shutil.copyfile(sdk_file, path)  # restored from a good copy
    repaired = offline.ingest_run(paths, RunFiles(RUN_ID, (path,)))
    assert repaired.runs.to_pylist()[0]["corrupt_records"] == 0 and quarantine_lines(paths) == []
    assert repaired.runs.to_pylist()[0]["steps_logged"] == STEPS
