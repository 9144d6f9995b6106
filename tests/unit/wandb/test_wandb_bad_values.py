"""Values no writer would write, each of which crashed the build (or was dropped without a word) before,
found by tests/fuzz/ (issue 10, item 16): each is planted beside a good value, which must land in the
lake, while the bad one is set aside in the quarantine with its key and reason, or kept in the form the
lake can hold.

The records are built with the SDK's protobuf classes and framed as the format specifies
(tests/wandb_log.py): the real SDK refuses to write most of these values.
"""

from __future__ import annotations

import json
import time

import pytest
from wandb.proto import wandb_internal_pb2 as pb

from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.wandb import offline
from diplo_pipeline.lib.wandb.run_tables import RunFiles, read_run
from tests.helpers.wandb_log import exit_record, run_record, write_log

START = 1_766_430_000.0
LATER = time.time() + 86_400  # the writer stopped long ago: the run is finished, not running


def history(items: list[tuple[list[str], str]], step: int) -> pb.Record:
    record = pb.Record()
    for path, value_json in items:
        item = record.history.item.add()
        item.nested_key.extend(path)
        item.value_json = value_json
    record.history.step.num = step
    return record


def good_row(step: int, *extra: tuple[list[str], str]) -> pb.Record:
    return history([(["benchmark/step"], str(step)), (["benchmark/loss"], "0.5"), *extra], step)


def ingest(tmp_path, records: list[pb.Record]):
    path = write_log(tmp_path / "wandb" / "run-badvalue.wandb", [run_record("badvalue", "grpo-x", START), *records,
                                                                 exit_record(0)])
    paths = DataPaths.from_env(tmp_path / "data")
    tables = offline.ingest_run(paths, RunFiles("badvalue", (path,)), now=LATER)
    lines = (paths.quarantine / "wandb" / "badvalue.ndjson")
    quarantined = [json.loads(x) for x in lines.read_text().split("\n") if x] if lines.exists() else []
    return tables, quarantined


def points(tables) -> dict[tuple[int, str], tuple]:
    return {(p["step"], p["key"]): (p["value"], p["value_text"]) for p in tables.metric_points.to_pylist()}


# (what was planted, its value JSON, what the reason says); the error each raised before, where it did.
SET_ASIDE = [
    ("not one JSON value (JSONDecodeError)", "1, 2", "is not one JSON value"),
    ("an unterminated object (JSONDecodeError)", '{"a": 1', "is not one JSON value"),
    ("a lone surrogate (UnicodeEncodeError in Parquet)", '"\\ud800 loss"', "lone UTF-16 surrogate"),
    ("a lone surrogate in a key (UnicodeEncodeError)", '{"\\udfff": 1}', "lone UTF-16 surrogate"),
    ("JSON nested 3000 deep (RecursionError)", "[" * 3000 + "]" * 3000, "nested deeper than 100 levels"),
    ("JSON nested just past the limit", "[" * 101 + "]" * 101, "nested deeper than 100 levels"),
    ("a 5000-digit integer (ValueError: int max str digits)", "9" * 5000, "is not one JSON value"),
]


@pytest.mark.parametrize(("planted", "value_json", "says"), SET_ASIDE, ids=[c[0] for c in SET_ASIDE])
def test_an_undecodable_value_is_set_aside_and_the_row_kept(tmp_path, planted, value_json, says):
    tables, quarantined = ingest(tmp_path, [good_row(0), good_row(1, (["bad/value"], value_json)), good_row(2)])
    got = points(tables)
    assert got[(1, "benchmark/loss")] == (0.5, None)  # the bad value's own row is kept
    assert sorted({step for step, _ in got}) == [0, 1, 2]
    assert not any(key == "bad/value" for _, key in got)
    [entry] = quarantined
    assert "the value of 'bad/value' in this history record" in entry["reason"] and says in entry["reason"]
    assert entry["raw"] == value_json[:2000] + ("…" if len(value_json) > 2000 else "")
    assert tables.runs.to_pylist()[0]["corrupt_records"] == 1


def test_values_misaligned_by_one_bad_item_go_to_their_own_keys(tmp_path):
    """Decoding a row in one batch put `4` under `a` and `5` under `b` when one item held "4,5"."""
    tables, quarantined = ingest(tmp_path, [history([(["a"], "[1"), (["b"], "2]"), (["c"], "4,5"),
                                                     (["benchmark/step"], "0"), (["d"], "7")], 0)])
    assert {key: value for (_, key), (value, _) in points(tables).items()} == {"benchmark/step": 0.0, "d": 7.0}
    assert sorted(q["raw"] for q in quarantined) == ["2]", "4,5", "[1"]


@pytest.mark.parametrize(("key", "value", "why"), [
    ("_step", "1e300", "is not a step a BIGINT can hold"),  # OverflowError: int too large to convert to C long
    ("_step", "-9223372036854775809", "is not a step a BIGINT can hold"),
    ("_timestamp", "1e300", "is not a time in epoch seconds"),  # OverflowError in the timestamp column
    ("_timestamp", "-62135596801", "is not a time in epoch seconds"),  # a year before 1
    ("_runtime", "Infinity", "is not a finite number of seconds"),
    ("_runtime", '"soon"', "is not a finite number of seconds"),
])
def test_bookkeeping_no_column_can_hold_is_set_aside(tmp_path, key, value, why):
    tables, quarantined = ingest(tmp_path, [good_row(0), good_row(1, ([key], value))])
    got = tables.metric_points.to_pylist()
    assert sorted({p["step"] for p in got}) == [0, 1] and len(got) == 4
    row1 = [p for p in got if p["step"] == 1]
    assert all(p["timestamp"] is None and p["runtime_s"] is None for p in row1)
    assert all(p["wandb_step"] == 1 for p in row1)  # history.step.num stands in for a bad _step
    [entry] = quarantined
    assert f"the value of '{key}' in this history record {why}" in entry["reason"]


def test_numbers_beyond_any_column_are_kept_exactly_as_text(tmp_path):
    """An integer beyond float range crashed `float()` (OverflowError); a step beyond BIGINT crashed Arrow."""
    huge = "9" * 400
    tables, quarantined = ingest(tmp_path, [good_row(0, (["big"], huge)), history([(["benchmark/step"], "1e300"),
                                                                                   (["x"], "1")], 7)])
    got = points(tables)
    assert got[(0, "big")] == (None, huge)  # the digits, exactly
    assert got[(7, "benchmark/step")] == (1e300, None)  # the value is kept; the row's step falls back to _step
    assert got[(7, "x")] == (1.0, None)
    assert quarantined == []


def test_a_key_path_that_is_empty_or_too_long_is_set_aside(tmp_path):
    """An item with neither key nor nested_key raised IndexError; an empty key name `key[0]` another."""
    tables, quarantined = ingest(tmp_path, [good_row(0, ([], "1"), ([""], "2"), (["p"] * 101, "3"))])
    got = points(tables)
    assert got[(0, "")] == (2.0, None)  # an empty name is still a name: kept
    assert got[(0, "benchmark/loss")] == (0.5, None)
    assert [("has no key" in q["reason"], "longer than 100 parts" in q["reason"]) for q in quarantined] == [
        (True, False), (False, True)]
    assert [q["raw"] for q in quarantined] == ["1", "3"]


def test_a_branch_and_a_leaf_on_one_path_are_both_kept(tmp_path):
    """`a.b` = 1 beside `a.b.c` = 2 in one row: building the nested row raised AttributeError."""
    tables, _ = ingest(tmp_path, [good_row(0, (["a", "b"], "1"), (["a", "b", "c"], "2"))])
    got = points(tables)
    assert got[(0, "a.b")] == (1.0, None) and got[(0, "a.b.c")] == (2.0, None)


def test_an_empty_summary_or_config_value_is_null_not_a_crash(tmp_path):
    """SummaryItem and ConfigItem have no typed oneof: asking for it raised ValueError."""
    summary = pb.Record()
    item = summary.summary.update.add()
    item.nested_key.append("empty")
    config = pb.Record()
    item = config.config.update.add()
    item.key = "empty_config"
    tables, quarantined = ingest(tmp_path, [good_row(0), summary, config])
    assert {r["key"]: r["value_text"] for r in tables.summary.to_pylist()}.get("empty", "missing") is None
    assert "empty_config" in {r["key"] for r in tables.config.to_pylist()}
    assert quarantined == []


def test_a_start_time_no_timestamp_can_hold_is_set_aside(tmp_path):
    """datetime.fromtimestamp raised ValueError (year out of range), OSError or OverflowError."""
    record = run_record("badvalue", "grpo-x", START)
    record.run.start_time.seconds = -(10**15)
    path = write_log(tmp_path / "run-badvalue.wandb", [record, good_row(0), exit_record(0)])
    tables = read_run(RunFiles("badvalue", (path,)), now=LATER)
    info = tables.runs.to_pylist()[0]
    assert info["created_at"] is None and info["state"] == "finished" and info["last_step"] == 0
    assert ["the value of 'start_time' in this run record is not a time in epoch seconds" in q.reason
            for q in tables.quarantined] == [True]


def test_an_empty_key_in_a_path_is_part_of_the_name(tmp_path):
    """Found by `make fuzz`: the path ["", "a"] was flattened to "a", overwriting the item named "a"."""
    tables, _ = ingest(tmp_path, [good_row(0, (["a"], "1"), (["", "a"], "2"))])
    got = points(tables)
    assert got[(0, "a")] == (1.0, None) and got[(0, ".a")] == (2.0, None)


def test_a_media_reference_whose_hash_is_not_text_keeps_its_row_and_its_reference(tmp_path):
    """Found by tests/fuzz/ (a value mutant): `"sha256": 7` in an image reference stopped the run's media
    table (ArrowTypeError) and with it the whole run. The row goes in without the hash; the reference is
    kept whole as the point's text."""
    image = json.dumps({"_type": "image-file", "path": "media/images/board_1_ab.png", "sha256": 7, "size": 10})
    tables, quarantined = ingest(tmp_path, [good_row(0), good_row(1, (["board"], image)), good_row(2)])
    [media] = tables.media.to_pylist()
    assert (media["key"], media["step"], media["path"], media["sha256"], media["size_bytes"]) == (
        "board", 1, "media/images/board_1_ab.png", None, 10)
    assert points(tables)[(1, "board")] == (None, image)
    assert sorted({step for step, _ in points(tables)}) == [0, 1, 2]
