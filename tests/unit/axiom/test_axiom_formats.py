"""Every export format gives the same events, with the same ids and types, stored once (issue 10, items 1, 4, 5).

The planted events (tests/axiom_exports.py) are written in each format and split over two overlapping
files; real staging and the real day rebuild must then hold each event exactly once, typed as the
NDJSON export of the same events types it.
"""

from __future__ import annotations

import gzip
import itertools
import json
import time

import duckdb
import pytest

from diplo_pipeline.lib.axiom import day_partitions, pending_days, staging
from diplo_pipeline.lib.axiom.export_files import parse_export
from tests.helpers.axiom_exports import HEX_LOOKING, WRITERS, csv_text, ndjson_bytes, planted_events, write_export

EVENTS = planted_events(60, day="2025-12-22") + planted_events(40, day="2025-12-23", offset=60)
FIRST, SECOND = EVENTS[:70], EVENTS[45:]  # 25 events in both files, on both days
TYPED = ["event", "event_time", "time_raw", "day", "batch_id", "hit_rate", "queries", "prompt_tokens_total",
         "cache_efficiency", "rollout_id", "total_duration_ms", "memory_total", "opponents", "results",
         "overall_score", "training_step", "tokens_per_second", "run_name"]


@pytest.fixture(scope="module")
def truth(tmp_path_factory) -> dict[str, dict]:
    """Each planted event as the NDJSON export of it is parsed: the truth every format must match."""
    path = tmp_path_factory.mktemp("reference") / "reference.ndjson"
    path.write_bytes(ndjson_bytes(EVENTS))
    parsed = parse_export(path)
    assert len(parsed) == len(EVENTS) and not parsed.quarantined
    return {row["event_id"]: row for row in parsed.table().to_pylist()}


def lake_rows(paths) -> list[dict]:
    return duckdb.sql(f"select * from '{day_partitions.events_dir(paths)}/*.parquet'").to_arrow_table().to_pylist()


def stage_and_build(paths) -> dict[str, int]:
    staged = staging.stage_exports(paths)
    counts = day_partitions.build_days(paths, pending_days.pending_days(paths))
    pending_days.mark_days_built(paths, staged.affected_days)
    return counts


PAIRS = list(itertools.combinations_with_replacement(sorted(WRITERS), 2))


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a}+{b}" for a, b in PAIRS])
def test_overlapping_exports_in_any_two_formats_hold_each_event_once(data_env, truth, first, second):
    inbox = data_env.axiom_dirs[0]
    write_export(inbox, "first", first, FIRST)
    write_export(inbox, "second", second, SECOND)

    counts = stage_and_build(data_env)

    rows = lake_rows(data_env)
    assert counts == {"2025-12-22": 60, "2025-12-23": 40}
    assert sorted(r["event_id"] for r in rows) == sorted(truth)  # each event once, none lost, none new
    for row in rows:
        want = truth[row["event_id"]]
        assert {c: row[c] for c in TYPED} == {c: want[c] for c in TYPED}, (first, second, row["payload"])
    # Locators are unique within each file: the one-line array's elements are 1..70, not all "line 1".
    for source in {r["source_file"] for r in rows}:
        staged = duckdb.sql(f"select source_line from '{staging.staged_dir(data_env)}/*.parquet' "
                            f"where source_file = '{source}'").fetchall()
        assert len(staged) == len(set(staged)) == (70 if "first" in source else 55)


def test_one_line_array_holding_an_event_twice_and_overlapping_ndjson(data_env):
    """The issue's case: a one-line array (every element on line 1) beside NDJSON of the same events."""
    inbox = data_env.axiom_dirs[0]
    write_export(inbox, "console", "array", [*EVENTS, EVENTS[3]])  # the Console download, one event twice
    write_export(inbox, "cli", "ndjson", EVENTS[10:])
    assert sum(stage_and_build(data_env).values()) == len(EVENTS)
    rows = lake_rows(data_env)
    assert len(rows) == len({r["event_id"] for r in rows}) == len(EVENTS)
    assert sorted(json.loads(r["payload"])["seq"] for r in rows) == list(range(len(EVENTS)))


def test_first_copy_is_kept_even_when_two_staged_copies_share_a_locator(data_env):
    """Dedup is keyed on the event itself: a staged file holding one event twice at the same locator (as
    files staged before unique locators could) still gives one row."""
    inbox = data_env.axiom_dirs[0]
    write_export(inbox, "a", "ndjson", EVENTS[:5])
    staging.stage_exports(data_env)
    [staged] = staging.staged_dir(data_env).glob("*.parquet")
    duckdb.sql(f"copy (select * replace (1 as source_line) from '{staged}' union all "
               f"select * replace (1 as source_line) from '{staged}') to '{staged}.tmp' (format parquet)")
    (staged.parent / f"{staged.name}.tmp").replace(staged)
    assert day_partitions.build_days(data_env, ["2025-12-22"]) == {"2025-12-22": 5}


# --- item 5: CSV ------------------------------------------------------------------------------------------


def test_csv_cells_take_the_declared_type_of_their_field(tmp_path):
    events = planted_events(35)
    (tmp_path / "e.csv").write_text(csv_text(events))
    with gzip.open(tmp_path / "e.ndjson.gz", "wb") as handle:
        handle.write(ndjson_bytes(events))
    from_csv, from_gz = parse_export(tmp_path / "e.csv"), parse_export(tmp_path / "e.ndjson.gz")
    assert not from_csv.quarantined and not from_gz.quarantined
    assert from_csv.event_ids == from_gz.event_ids  # the same event, the same id, whatever the format
    rows = {r["seq"]: r for r in (json.loads(p) | {"row": i} for i, p in enumerate(from_csv.payloads))}
    typed = from_csv.table().to_pylist()
    batch_ids = [typed[rows[i]["row"]]["batch_id"] for i in range(0, 35, 5)]
    # Text, however numeric it looks: not NULL, not 3617160.0, not 0.0.
    assert batch_ids == [HEX_LOOKING[i % len(HEX_LOOKING)] for i in range(0, 35, 5)]
    assert set(batch_ids) == set(HEX_LOOKING)
    row = typed[rows[1]["row"]]
    assert row["total_duration_ms"] == 92001.0 and row["trajectories_count"] == 72
    assert json.loads(typed[rows[3]["row"]]["results"]) == [{"opponent": "random", "score": 0.75}]
    assert typed[rows[2]["row"]]["memory_total"] == 85_520_809_984
    # Fields we do not know: typed only when the value prints back as the cell's text.
    assert rows[3]["config.learning_rate"] == 1e-05 and rows[3]["label"] == "1e5x" and rows[4]["ratio"] == 3.5


def test_unknown_csv_fields_keep_text_that_does_not_round_trip(tmp_path):
    (tmp_path / "u.csv").write_text(
        "_time,event,code,count,flag,maybe,blob,big\n"
        '2025-12-22T10:00:00Z,x,0e12,17,true,007,"{""a"": [1, 2]}",785e3658\n'
    )
    [payload] = parse_export(tmp_path / "u.csv").payloads
    assert json.loads(payload) == {"_time": "2025-12-22T10:00:00Z", "event": "x", "code": "0e12", "count": 17,
                                   "flag": True, "maybe": "007", "blob": {"a": [1, 2]}, "big": "785e3658"}


def test_csv_rows_cut_short_or_merged_are_quarantined_and_the_others_kept(tmp_path):
    events = planted_events(6)
    lines = csv_text(events).split("\r\n")[:-1]  # not splitlines(): U+2028 inside a cell is no line end
    lines[2] = lines[2].rsplit(",", 3)[0]  # row 2 lost its last three cells
    lines.insert(4, lines[4] + ",extra")  # a row with one cell too many
    (tmp_path / "c.csv").write_text("\r\n".join(lines) + "\r\n", newline="")
    parsed = parse_export(tmp_path / "c.csv")
    assert len(parsed) == 5 and [q.line for q in parsed.quarantined] == [2, 4]
    assert all("cells where the header names" in q.reason and q.reason.startswith("row ") for q in parsed.quarantined)


def test_truncated_gzip_keeps_its_readable_part_and_says_what_to_do(tmp_path):
    events = planted_events(3000)
    whole = gzip.compress(ndjson_bytes(events), mtime=0)
    (tmp_path / "cut.ndjson.gz").write_bytes(whole[: len(whole) * 2 // 3])
    parsed = parse_export(tmp_path / "cut.ndjson.gz")
    seqs = [json.loads(p)["seq"] for p in parsed.payloads]
    assert len(seqs) > 1500 and seqs == list(range(len(seqs)))  # everything before the cut, in order
    *partial, note = parsed.quarantined
    assert note.line is None and "cut short" in note.reason and "Export it again" in note.reason
    assert [q.line for q in partial] == [len(seqs) + 1] and "malformed JSON" in partial[0].reason

    # CSV: a row cut inside its last cell can look whole, so the cut row is set aside as well.
    whole = gzip.compress(csv_text(events).encode(), mtime=0)
    (tmp_path / "cut.csv.gz").write_bytes(whole[: len(whole) // 2])
    parsed = parse_export(tmp_path / "cut.csv.gz")
    seqs = [json.loads(p)["seq"] for p in parsed.payloads]
    assert seqs == list(range(len(seqs))) and len(seqs) > 1000
    assert [q.reason for q in parsed.quarantined][-2].startswith("the last row was cut short")


def test_corrupt_gzip_ingests_only_what_its_checksums_vouch_for(tmp_path):
    """A flipped bit inside a deflate stream decompresses to valid-looking but wrong events (caught only by
    the CRC at the end), so a corrupt member gives nothing; a complete member before it is kept."""
    events = planted_events(3000)
    first = gzip.compress(ndjson_bytes(events[:1000]), mtime=0)
    second = bytearray(gzip.compress(ndjson_bytes(events[1000:]), mtime=0))
    second[len(second) // 2] ^= 0x10
    (tmp_path / "bad.ndjson.gz").write_bytes(first + bytes(second))
    parsed = parse_export(tmp_path / "bad.ndjson.gz")
    assert [json.loads(p)["seq"] for p in parsed.payloads] == list(range(1000))
    [note] = parsed.quarantined
    assert note.line is None and "is corrupt at about byte" in note.reason and "Export it again" in note.reason

    (tmp_path / "worse.ndjson.gz").write_bytes(bytes(second))
    parsed = parse_export(tmp_path / "worse.ndjson.gz")
    assert len(parsed) == 0 and "nothing of it was ingested" in parsed.quarantined[0].reason


# --- item 4: one bad element of an array -------------------------------------------------------------------


@pytest.mark.parametrize("pretty", [False, True], ids=["one_line", "pretty"])
def test_one_bad_element_of_a_big_array_loses_nothing_else_and_reads_in_linear_time(tmp_path, pretty):
    events = planted_events(20_000)
    bad = '{"_time": "2025-12-22T10:00:00Z", "event": "rollout_complete", "rollout_id": oops}'
    sep = ",\n  " if pretty else ","
    text = "[" + sep.join([*map(json.dumps, events[:11_000]), bad, *map(json.dumps, events[11_000:])]) + "]"
    (tmp_path / "big.json").write_text(text)
    started = time.perf_counter()
    parsed = parse_export(tmp_path / "big.json")
    elapsed = time.perf_counter() - started
    assert [json.loads(p)["seq"] for p in parsed.payloads] == list(range(20_000))
    [item] = parsed.quarantined
    assert item.line == 11_001 and item.reason.startswith("element 11001: malformed JSON")
    assert item.raw == bad  # that element alone, not the thousands around it
    assert parsed.lines == [*range(1, 11_001), *range(11_002, 20_002)]
    assert elapsed < 2, f"{elapsed:.2f}s: reading is no longer linear"  # a gross guard (the bench measures)


# --- telling the JSON shapes apart -------------------------------------------------------------------------


def test_every_json_shape_is_recognised_and_a_damaged_first_line_costs_only_that_line(tmp_path):
    from tests.helpers.axiom_exports import tabular_answer

    events = planted_events(6)
    shapes = {
        # `jq . export.ndjson`: pretty objects one after another
        "jq.json": "\n".join(json.dumps(e, indent=2) for e in events),
        # an answer saved by a tool that opens the object on its first line
        "answer.json": json.dumps(tabular_answer(events), indent=1).replace("{\n ", "{", 1),
        "one-event.json": json.dumps(events[0], indent=2),
        "damaged-first-line.ndjson": '{"_time": "2025-12-22T10:00:00Z", "event": \n'
                                     + "".join(json.dumps(e) + "\n" for e in events),
    }
    found = {}
    for name, text in shapes.items():
        (tmp_path / name).write_text(text)
        parsed = parse_export(tmp_path / name)
        found[name] = (sorted(json.loads(p)["seq"] for p in parsed.payloads), [q.line for q in parsed.quarantined])
    assert found == {
        "jq.json": (list(range(6)), []),
        "answer.json": (list(range(6)), []),
        "one-event.json": ([0], []),
        "damaged-first-line.ndjson": (list(range(6)), [1]),
    }
