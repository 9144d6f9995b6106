"""Axiom export parsing: every accepted shape, quarantine of bad lines, dedup across exports."""

import gzip
import json

import duckdb

from diplo_pipeline.lib.axiom import day_partitions, staging
from diplo_pipeline.lib.axiom.export_files import parse_export, parse_time
from diplo_pipeline.lib.settings import DataPaths

EVENTS = [
    {"_time": "2025-12-22T19:14:08.123456789Z", "_sysTime": "2025-12-22T19:14:09.1Z", "event": "rollout_start",
     "horizon_type": "long", "horizon_years": 6, "rollout_id": "game-1", "samples_per_group": 8,
     "service": "unknown", "warmup_phases": 0, "field_added_later": {"x": 1}},
    {"_time": "2025-12-22T19:15:40Z", "_sysTime": "2025-12-22T19:15:41Z", "event": "rollout_complete",
     "rollout_id": "game-1", "service": "unknown", "total_duration_ms": 92000, "total_inference_calls": 18,
     "trajectories_count": 72},
    {"_time": "2025-12-22T23:59:59.5Z", "_sysTime": "2025-12-23T00:00:01Z",
     "context": "train_grpo_benchmark:grpo-20251222-191408",
     "event": "gpu_stats", "gpu_utilization": 44, "memory_total": 85899345920, "memory_used": 40000000000,
     "memory_utilization": 47, "service": "unknown"},
    {"_time": "2025-12-23T00:00:02Z", "_sysTime": "2025-12-23T00:00:03Z", "event": "sweep_run_started",
     "run_id": "A", "run_name": "stability-ablation-A-20251226-124256", "sweep_name": "stability-ablation",
     "config": {"learning_rate": 1e-5}, "service": "unknown"},
]


def ndjson(events) -> str:
    return "".join(json.dumps(e, sort_keys=True, separators=(",", ":")) + "\n" for e in events)


def test_time_keeps_microseconds_and_raw_nanoseconds():
    assert parse_time("2025-12-22T19:14:08.123456789Z").microsecond == 123456
    assert parse_time("2025-12-22T19:14:08Z").second == 8


def test_ndjson_known_fields_typed_unknown_kept_in_payload(tmp_path):
    path = tmp_path / "a.ndjson"
    path.write_text(ndjson(EVENTS))
    parsed = parse_export(path)
    assert not parsed.quarantined
    table = parsed.table()
    rows = {r["event"]: r for r in table.to_pylist()}
    assert rows["rollout_start"]["horizon_type"] == "long" and rows["rollout_start"]["warmup_phases"] == 0
    assert rows["rollout_start"]["time_raw"] == "2025-12-22T19:14:08.123456789Z"
    assert json.loads(rows["rollout_start"]["payload"])["field_added_later"] == {"x": 1}
    assert rows["rollout_complete"]["total_duration_ms"] == 92000
    assert rows["rollout_start"]["event_time"].microsecond == 123456
    assert rows["gpu_stats"]["run_name"] == "grpo-20251222-191408"
    assert rows["sweep_run_started"]["run_name"] == "stability-ablation-A-20251226-124256"
    assert rows["sweep_run_started"]["sweep_run_id"] == "A"  # the sweep letter, not a WandB run id
    assert sorted(set(table.column("day").to_pylist())) == ["2025-12-22", "2025-12-23"]


def test_malformed_lines_are_quarantined_with_file_line_and_reason(tmp_path):
    path = tmp_path / "bad.ndjson"
    lines = ndjson(EVENTS[:2]).splitlines()
    lines.insert(1, '{"_time": "2025-12-22T19:14:09Z", "event": "rollout_start"')  # cut short
    lines.append('{"event": "rollout_error", "error": "boom"}')  # no _time
    lines.append('{"_time": "yesterday", "event": "x"}')
    lines.append('{"_time": "2025-12-22T19:16:00Z"}')  # no event name
    path.write_text("\n".join(lines) + "\n")
    parsed = parse_export(path)
    assert len(parsed) == 2
    reasons = {q.line: q.reason for q in parsed.quarantined}
    assert set(reasons) == {2, 4, 5, 6}
    assert "malformed JSON" in reasons[2] and "_time" in reasons[4] and "RFC3339" in reasons[5]
    assert "event" in reasons[6]
    assert all(q.file == str(path) and q.raw for q in parsed.quarantined)


def test_json_array_csv_and_gzip_give_the_same_events(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(EVENTS[:2], indent=2))
    with gzip.open(tmp_path / "b.ndjson.gz", "wt") as handle:
        handle.write(ndjson(EVENTS[:2]))
    header = ["_time", "event", "rollout_id", "total_duration_ms", "trajectories_count", "service",
              "total_inference_calls"]
    (tmp_path / "c.csv").write_text(
        ",".join(header) + "\n2025-12-22T19:15:40Z,rollout_complete,game-1,92000,72,unknown,18\n"
    )
    array = parse_export(tmp_path / "a.json")
    gz = parse_export(tmp_path / "b.ndjson.gz")
    csv_rows = parse_export(tmp_path / "c.csv")
    assert array.event_ids == gz.event_ids and len(array) == 2
    assert csv_rows.table().column("total_duration_ms").to_pylist() == [92000]
    # The CSV row is the same stored event as the JSON one, once Axiom-only fields (_sysTime) are set aside.
    assert csv_rows.event_ids[0] == gz.event_ids[1]


def test_damaged_json_array_keeps_the_good_elements(tmp_path):
    bad = '{"_time": "2025-12-22T19:15:00Z", "event": oops}'
    text = "[\n" + json.dumps(EVENTS[0]) + ",\n" + bad + ",\n" + json.dumps(EVENTS[1]) + "\n]"
    (tmp_path / "a.json").write_text(text)
    parsed = parse_export(tmp_path / "a.json")
    assert parsed.table().column("event").to_pylist() == ["rollout_start", "rollout_complete"]
    [bad] = parsed.quarantined
    assert bad.line == 2 and bad.reason.startswith("element 2: malformed JSON") and "(line 3," in bad.reason
    assert bad.raw == '{"_time": "2025-12-22T19:15:00Z", "event": oops}'  # that element, not the ones after it


def test_overlapping_exports_store_each_event_once(tmp_path, monkeypatch):
    inbox = tmp_path / "axiom"
    inbox.mkdir()
    (inbox / "first.ndjson").write_text(ndjson(EVENTS[:3]))
    (inbox / "second.ndjson").write_text(ndjson(EVENTS[1:]))  # overlaps on events 1 and 2
    monkeypatch.setenv("DIPLO_AXIOM_DIR", str(inbox))
    paths = DataPaths.from_env(tmp_path / "data")
    staged = staging.stage_exports(paths)
    assert staged.affected_days == {"2025-12-22", "2025-12-23"}
    counts = {day: day_partitions.build_day(paths, day) for day in sorted(staged.affected_days)}
    assert counts == {"2025-12-22": 3, "2025-12-23": 1}
    events = duckdb.sql(f"select event from '{paths.raw}/axiom/events/*.parquet' order by event_time").fetchall()
    assert [e[0] for e in events] == ["rollout_start", "rollout_complete", "gpu_stats", "sweep_run_started"]

    # A second staging pass with nothing changed parses nothing.
    assert staging.stage_exports(paths).files_parsed == []
    # Removing an export removes only the events no other export holds.
    (inbox / "second.ndjson").unlink()
    again = staging.stage_exports(paths)
    assert again.files_removed and "2025-12-23" in again.affected_days
    assert day_partitions.build_day(paths, "2025-12-23") == 0
    assert day_partitions.build_day(paths, "2025-12-22") == 3
