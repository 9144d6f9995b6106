"""One bad Axiom line, or a crash at any moment of staging, never loses a day (issue 10, item 3).

Bad lines are planted beside thousands of good ones and must each be quarantined with a reason a person
understands while every good event goes in. Crashes are real: a child process is SIGKILLed just before
each write staging and the day rebuild make (tests/axiom_kill.py), then an ordinary run must leave the
lake exactly as a run that was never interrupted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from diplo_pipeline.lib.axiom import day_partitions, pending_days, staging
from tests.helpers.axiom_exports import planted_events, write_export
from tests.helpers.axiom_kill import count_writes, ingest, paths_for

ROOT = Path(__file__).resolve().parents[3]
DAY = "2025-12-22"
# Each line the issue found ending the build with a traceback, and more of the same class.
BAD_LINES = {
    b'{"_time": "9999-12-31T23:59:59-01:00", "event": "rollout_complete"}': "outside the years 1 to 9999",
    b'{"_time": "0001-01-01T00:00:00+01:00", "event": "rollout_complete"}': "outside the years 1 to 9999",
    b'{"_time": "2025-12-22T10:00:00Z", "event": "rollout_complete", "error": "\\ud800"}': "not valid Unicode",
    b"[" * 100_000: "nested too deeply",
    b'{"_time": "2025-12-22T10:00:00Z", "event": "x", "deep": ' + b"[" * 5000 + b"]" * 5000 + b"}": "nested too deeply",
    b'{"_time": "2025-12-22T10:00:00Z", "event": "rollout_complete", "error": "\xff\xfe"}': "not UTF-8",
    b'{"_time": "\xd9\xa2\xd9\xa0\xd9\xa2\xd9\xa5-12-22T10:00:00Z", "event": "x"}': "not RFC3339",
    b'{"_time": "2025-02-30T10:00:00Z", "event": "x"}': "not a valid time: day is out of range",
    # Not bad: a lenient writer's overflowing number reads as Infinity (stored as null), the event goes in.
    b'{"_time": "2025-12-22T10:00:00Z", "event": "x", "n": 1e999, "seq": 9999}': "",
}


def quarantine(paths) -> list[dict]:
    return [json.loads(line) for path in sorted((paths.quarantine / "axiom").glob("*.ndjson"))
            for line in path.read_text().split("\n") if line]  # (U+2028 in a raw is no line end)


def day_events(paths, day: str = DAY) -> list[int]:
    path = day_partitions.events_dir(paths) / f"{day}.parquet"
    return sorted(json.loads(p)["seq"] for (p,) in duckdb.sql(f"select payload from '{path}'").fetchall())


def test_each_bad_line_is_quarantined_with_its_reason_and_the_day_keeps_every_good_event(data_env):
    good = planted_events(3829, day=DAY)
    lines = [json.dumps(e).encode() for e in good]
    for k, bad in enumerate(BAD_LINES):
        lines.insert(100 + 300 * k, bad)
    export = data_env.axiom_dirs[0] / "day.ndjson"
    export.write_bytes(b"\n".join(lines) + b"\n")

    ingest(data_env)

    assert day_events(data_env) == [*range(3829), 9999]
    items = quarantine(data_env)
    planted = {100 + 300 * k + 1: reason for k, reason in enumerate(BAD_LINES.values()) if reason}
    assert {item["line"]: item["reason"] for item in items}.keys() == planted.keys()
    for item in items:
        assert planted[item["line"]] in item["reason"] and item["file"] == str(export.resolve())
        assert item["raw"]  # what the line held, bounded and always writable

    # The bad lines removed: the day is rebuilt (it was marked pending), and the quarantine is cleared.
    export.write_bytes(b"\n".join(json.dumps(e).encode() for e in good) + b"\n")
    ingest(data_env)
    assert day_events(data_env) == list(range(3829)) and quarantine(data_env) == []


# --- crash consistency ----------------------------------------------------------------------------------

EVENTS = [*planted_events(40, "2025-12-21"), *planted_events(50, "2025-12-22", 40),
          *planted_events(30, "2025-12-23", 90), *planted_events(20, "2025-12-24", 120)]
BAD = {"_time": "9999-12-31T23:59:59-01:00", "event": "x"}


def write_old(inbox: Path) -> None:
    write_export(inbox, "a", "ndjson", [*EVENTS[:45], BAD])
    write_export(inbox, "b", "array", EVENTS[30:75])
    write_export(inbox, "c", "csv", EVENTS[70:95])
    write_export(inbox, "d", "ndjson_gz", EVENTS[90:120])
    for i, path in enumerate(sorted(inbox.iterdir())):
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))


def write_new(inbox: Path) -> None:
    """Changed, unchanged, removed and new files: every kind of staging step."""
    write_export(inbox, "a", "ndjson", [*EVENTS[:35], *EVENTS[125:]])  # bad line gone, events moved to a new day
    write_export(inbox, "c", "csv", EVENTS[72:100])
    (inbox / "d.ndjson.gz").unlink(missing_ok=True)
    if not (inbox / "b.json").exists():  # over the older exports it stays as it was
        write_export(inbox, "b", "array", EVENTS[30:75])
    write_export(inbox, "e", "api_tabular", [*EVENTS[100:130], BAD])
    for name in ("a.ndjson", "c.csv", "e.json"):
        os.utime(inbox / name, (1_800_000_000, 1_800_000_000))


def lake_state(paths) -> dict:
    """Everything staging and the day rebuild leave behind, except temporary files a kill left."""
    events = day_partitions.events_dir(paths)
    state = {
        "events": duckdb.sql(f"select * from '{events}/*.parquet' order by day, event_id").fetchall()
        if any(events.glob("*.parquet")) else [],
        "day_files": sorted(p.name for p in events.glob("*.parquet")),
        "staged": sorted(p.name for p in staging.staged_dir(paths).glob("*.parquet")),
        "index": json.loads(staging.index_path(paths).read_text()),
        "pending": pending_days.pending_days(paths),
        "quarantine": quarantine(paths),
    }
    assert state["pending"] == []
    return state


def kill_at_every_write(inbox: Path, start: Path, work: Path) -> dict[int, str]:
    """Copy `start` (a data dir) once per write of one `ingest` run, and kill a run in each copy there."""
    writes = count_writes(inbox, shutil.copytree(start, work / "count"))
    assert writes >= 8  # pending days, staged rows, quarantine, index, day partitions: all were written
    dirs = {n: shutil.copytree(start, work / f"kill-{n}") for n in range(1, writes + 1)}
    args = [str(inbox)] + [arg for n, d in dirs.items() for arg in (str(d), str(n))]
    done = subprocess.run([sys.executable, "-m", "tests.helpers.axiom_kill", *args], capture_output=True, text=True,
                          check=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    outcome = json.loads(done.stdout)
    return {n: outcome[str(d)] for n, d in dirs.items()}


@pytest.mark.parametrize("before", ["empty lake", "lake of older exports"])
def test_a_kill_at_any_write_converges_to_the_uninterrupted_lake(tmp_path, before):
    inbox, start = tmp_path / "inbox", tmp_path / "start"
    inbox.mkdir()
    start.mkdir()
    if before == "lake of older exports":
        write_old(inbox)
        ingest(paths_for(inbox, start))
        assert quarantine(paths_for(inbox, start))  # the old version had a bad line
    write_new(inbox)
    clean = tmp_path / "clean"
    ingest(paths_for(inbox, shutil.copytree(start, clean)))
    expected = lake_state(paths_for(inbox, clean))
    assert len({row[0] for row in expected["events"]}) == len(expected["events"]) == len(EVENTS)

    outcome = kill_at_every_write(inbox, start, tmp_path)

    assert set(outcome.values()) == {"killed"}, outcome
    for n in outcome:
        paths = paths_for(inbox, tmp_path / f"kill-{n}")
        ingest(paths)  # the next ordinary run
        assert lake_state(paths) == expected, f"killed before write {n}"


def test_a_reader_bug_on_one_file_sets_that_version_aside_and_keeps_the_rest(data_env, monkeypatch):
    """Should a reader raise after all (a bug), that file's new version is quarantined with the error, what
    an earlier version staged stays, the other files go in, and touching the file reads it again."""
    inbox = data_env.axiom_dirs[0]
    write_export(inbox, "good", "ndjson", planted_events(30, DAY))
    flaky = write_export(inbox, "flaky", "ndjson", planted_events(20, DAY, offset=30))
    ingest(data_env)
    assert day_events(data_env) == list(range(50))

    real = staging.parse_export

    def broken(path):
        if path.name == "flaky.ndjson":
            raise RuntimeError("reader bug")
        return real(path)

    write_export(inbox, "flaky", "ndjson", planted_events(25, DAY, offset=30))  # a new version: 5 more events
    monkeypatch.setattr(staging, "parse_export", broken)
    ingest(data_env)
    assert day_events(data_env) == list(range(50))  # the version read before stays
    [item] = quarantine(data_env)
    assert item["line"] is None and "RuntimeError: reader bug" in item["reason"] and "report it" in item["reason"]

    monkeypatch.setattr(staging, "parse_export", real)  # fixed; then the file is touched
    os.utime(flaky, (1_900_000_000, 1_900_000_000))
    ingest(data_env)
    assert day_events(data_env) == list(range(55)) and quarantine(data_env) == []
