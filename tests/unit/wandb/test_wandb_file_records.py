"""Reader behaviour on record shapes and damage that need hand-built logs (see tests/wandb_log.py)."""

import math
import time

from wandb.proto import wandb_internal_pb2 as pb

from diplo_pipeline.lib.wandb.records import read_wandb_file
from diplo_pipeline.lib.wandb.run_tables import RunFiles, read_run
from tests.helpers.wandb_log import exit_record, frame, history_record, run_record, write_log

START = 1_764_000_000.0  # 2025-11-24, the legacy era


def test_legacy_key_plus_json_items_are_flattened(tmp_path):
    path = write_log(
        tmp_path / "run-legacy01.wandb",
        [
            run_record("legacy01", "benchmark-20251124-160000", START, {"learning_rate": "0.00001"}),
            history_record(
                [("step", "0"), ("loss/total", "0.5"), ("nested", '{"a": 1, "b": {"c": 2.5}}'),
                 ("_timestamp", str(START)), ("_step", "0")],
                step=0,
            ),
            exit_record(0),
        ],
    )
    wf = read_wandb_file(path)
    assert wf.history[0]["nested.a"] == 1
    assert wf.history[0]["nested.b.c"] == 2.5
    assert wf.history[0]["loss/total"] == 0.5
    assert wf.config == {"learning_rate": 1e-05}
    assert wf.exit_code == 0


def test_typed_value_oneof_of_newer_writers(tmp_path):
    record = pb.Record()
    for key, setter in [
        ("n", lambda i: setattr(i, "number", 2.5)),
        ("i", lambda i: setattr(i, "integer", 7)),
        ("b", lambda i: setattr(i, "boolean", True)),
        ("t", lambda i: setattr(i, "text", "hello")),
        ("j", lambda i: setattr(i, "json", '{"_type": "histogram", "bins": [0, 1], "values": [3]}')),
    ]:
        item = record.history.item.add()
        item.nested_key.append(key)
        setter(item)
    none_item = record.history.item.add()
    none_item.nested_key.append("nothing")
    none_item.none = 1
    path = write_log(tmp_path / "run-typed001.wandb", [run_record("typed001", "typed", START), record])
    row = read_wandb_file(path).history[0]
    assert row["n"] == 2.5 and row["i"] == 7 and row["b"] is True and row["t"] == "hello"
    assert row["nothing"] is None
    assert row["j"] == {"_type": "histogram", "bins": [0, 1], "values": [3]}  # media kept whole


def _many_rows(n: int) -> list[pb.Record]:
    rows = [run_record("damaged1", "grpo-20251124-160000", START)]
    for step in range(n):
        rows.append(
            history_record(
                [("benchmark/step", str(step)), ("benchmark/loss", str(step / 10)), ("pad", '"' + "x" * 300 + '"'),
                 ("_timestamp", str(START + 180 * step)), ("_step", str(step))],
                step=step,
            )
        )
    return rows


def test_crc_failure_in_the_middle_skips_one_record_and_keeps_the_rest(tmp_path):
    records = _many_rows(40)
    payloads = [r.SerializeToString() for r in records]
    data = bytearray(frame(payloads))
    # Corrupt one byte inside the payload of history row 20 (the 22nd record: run record + 21 rows).
    marker = payloads[21]
    offset = bytes(data).index(marker) + len(marker) // 2
    data[offset] ^= 0xFF
    path = tmp_path / "run-damaged1.wandb"
    path.write_bytes(bytes(data))
    wf = read_wandb_file(path)
    steps = [row["benchmark/step"] for row in wf.history]
    assert steps == [s for s in range(40) if s != 20]
    assert wf.stats.corrupt_records == 1
    tables = read_run(RunFiles("damaged1", (path,)), now=START + 10**6)
    assert tables.runs.column("corrupt_records")[0].as_py() == 1
    assert any("CRC mismatch" in q.reason and q.file == str(path) for q in tables.quarantined)


def test_truncated_tail_keeps_every_row_before_it(tmp_path):
    full = frame([r.SerializeToString() for r in _many_rows(40)])
    path = tmp_path / "run-damaged1.wandb"
    path.write_bytes(full[: len(full) - 50])  # cut inside the last record
    wf = read_wandb_file(path)
    assert [row["benchmark/step"] for row in wf.history] == list(range(39))
    assert wf.stats.tail == "truncated"
    an_hour_later = time.time() + 3600  # the writer has been idle for an hour: crashed, not running
    tables = read_run(RunFiles("damaged1", (path,)), now=an_hour_later, idle_limit_s=900)
    run = tables.runs.to_pylist()[0]
    assert run["tail_status"] == "truncated" and run["state"] == "crashed" and run["last_step"] == 38


def test_exit_codes_map_to_states(tmp_path):
    states = {}
    for code in (0, 1, 137):
        path = write_log(tmp_path / f"c{code}" / "run-exitcode.wandb", _many_rows(3) + [exit_record(code)])
        states[code] = read_run(RunFiles("exitcode", (path,)), now=START).runs.column("state")[0].as_py()
    assert states == {0: "finished", 1: "crashed", 137: "killed"}


def test_not_a_wandb_file_is_quarantined_not_fatal(tmp_path):
    bad = tmp_path / "run-notwandb.wandb"
    bad.write_bytes(b"hello world")
    tables = read_run(RunFiles("notwandb", (bad,)))
    assert tables.metric_points.num_rows == 0
    assert tables.runs.column("state")[0].as_py() == "unreadable"
    assert "header" in tables.quarantined[0].reason


def test_nan_in_history_is_kept_as_nan_with_its_text(tmp_path):
    path = write_log(
        tmp_path / "run-nanrun01.wandb",
        [run_record("nanrun01", "n", START), history_record([("benchmark/step", "0"), ("benchmark/loss", "NaN")], 0)],
    )
    points = read_run(RunFiles("nanrun01", (path,)), now=START).metric_points.to_pylist()
    loss = next(p for p in points if p["key"] == "benchmark/loss")
    assert math.isnan(loss["value"]) and loss["value_text"] == "NaN"


def test_a_length_damaged_past_the_end_of_the_file_is_not_a_truncated_tail(tmp_path):
    """Found by `make fuzz`: a flipped bit in a chunk's length made it claim bytes past the end of the
    file, so the reader took it for a cut-off tail and lost the intact records after it."""
    records = [r.SerializeToString() for r in _many_rows(5)]
    data = bytearray(frame(records))
    second = bytes(data).index(records[2]) - 7  # the chunk header of history row 1
    data[second + 5] ^= 0x10  # length += 4096: beyond the end of this small file
    wf = read_wandb_file(tmp_path / "x.wandb", data=bytes(data))
    assert [row["benchmark/step"] for row in wf.history] == [0, 2, 3, 4]
    assert wf.stats.tail == "clean" and wf.stats.corrupt_records == 1
    [damage] = wf.stats.damage
    assert damage.offset == second and "runs past the end of the file" in damage.reason()
