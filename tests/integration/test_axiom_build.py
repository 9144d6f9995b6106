"""Bad Axiom input and a killed build, through `diplo build` on real Dagster instances (issue 10, items 1, 3).

Before the fix a one-line JSON array beside overlapping NDJSON left duplicates that failed the blocking
uniqueness check (no catalog at all), a bad line ended the build with a traceback, and a build killed
after staging lost its days for good. Here each is planted and the published catalog must hold every
event exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest

from diplo_pipeline.build import build
from diplo_pipeline.definitions import defs
from diplo_pipeline.defs.warehouse.project import PROJECT
from diplo_pipeline.lib.lake.duck import duckdb_session
from tests.helpers.axiom_exports import planted_events, write_export
from tests.helpers.materialisations import cursor, materialised_since

pytestmark = pytest.mark.slow  # builds; tests/conftest.py schedules slow modules first

ROOT = Path(__file__).resolve().parents[2]
EVENTS = planted_events(900, "2025-12-22") + planted_events(300, "2025-12-23", offset=900)
BAD = [b'{"_time": "9999-12-31T23:59:59-01:00", "event": "rollout_complete"}',
       b'{"_time": "2025-12-22T10:00:00Z", "event": "rollout_complete", "error": "\\ud800"}',
       b"[" * 100_000]


def catalog_events(paths) -> list[tuple]:
    with duckdb_session(paths.catalog, read_only=True) as con:
        return con.execute("select event_id, cast(json_extract(payload, '$.seq') as int) from axiom_events").fetchall()


def assert_each_event_once(paths) -> None:
    rows = catalog_events(paths)
    assert len(rows) == len({event_id for event_id, _ in rows}) == len(EVENTS)
    assert sorted(seq for _, seq in rows) == list(range(len(EVENTS)))


def test_one_line_array_beside_overlapping_ndjson_and_bad_lines_builds_the_warehouse(data_env, instance):
    inbox = data_env.axiom_dirs[0]
    write_export(inbox, "console-download", "array", EVENTS[:1000])  # one line: every element on line 1
    cli = [json.dumps(e).encode() for e in EVENTS[229:]]  # 771 events in both files, as in the issue
    (inbox / "cli.ndjson").write_bytes(b"\n".join([*cli[:400], *BAD, *cli[400:]]) + b"\n")

    report = build(defs(), instance, data_env)

    assert data_env.catalog.exists() and report.failed_steps == []
    assert_each_event_once(data_env)
    assert "raw/axiom_export_files:no_quarantined_axiom_lines" in report.checks_failed
    meta = report.check_metadata["raw/axiom_export_files:no_quarantined_axiom_lines"]
    assert meta["quarantined"] == len(BAD)
    assert sorted(report.axiom_days_built) == ["2025-12-22", "2025-12-23"]

    # The bad lines removed: the days they were in are rebuilt and the quarantine is empty again.
    (inbox / "cli.ndjson").write_bytes(b"\n".join(cli) + b"\n")
    again = build(defs(), instance, data_env)
    assert again.axiom_days_built and "raw/axiom_export_files:no_quarantined_axiom_lines" not in again.checks_failed
    assert_each_event_once(data_env)


KILLED_BUILD = textwrap.dedent("""
    import os, signal
    import dagster as dg
    from diplo_pipeline.build import build
    from diplo_pipeline.definitions import defs
    from diplo_pipeline.lib.axiom import day_partitions
    from diplo_pipeline.lib.axiom import pending_days
    from diplo_pipeline.lib.axiom import staging
    from diplo_pipeline.lib.lake import state_lock
    from diplo_pipeline.lib.settings import DataPaths

    staged = staging.stage_exports

    def stage_then_die(paths):
        staged(paths)  # staged and marked pending; the asset never gets to add the day partitions
        os.kill(os.getpid(), signal.SIGKILL)

    staging.stage_exports = stage_then_die
    with dg.DagsterInstance.get() as instance:
        build(defs(), instance, DataPaths.from_env())
""")


def test_a_build_killed_right_after_staging_loses_no_day(data_env, tmp_path):
    inbox = data_env.axiom_dirs[0]
    write_export(inbox, "console-download", "array", EVENTS[:1000])
    write_export(inbox, "cli", "ndjson", EVENTS[229:])
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(ROOT)}
    killed = subprocess.run([sys.executable, "-c", KILLED_BUILD], check=False, env=env, capture_output=True,
                            timeout=600)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    assert not data_env.catalog.exists()

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_dynamic_partitions("axiom_days") == []  # the killed run never added them
        report = build(defs(), instance, data_env)  # the next ordinary build
    assert sorted(report.axiom_days_built) == ["2025-12-22", "2025-12-23"] and report.failed_steps == []
    assert_each_event_once(data_env)


def test_a_new_day_of_events_computes_that_day_only_and_leaves_the_other_tables_alone(data_env, instance):
    """Issue 12: the Axiom tables with an hour or day grain are partitioned by UTC day. A second export
    holding only a new day materialises that day's partitions and nothing of the days already built, and no
    per-run table; the whole tables reading events (rollouts, cache_stats) are rebuilt, the rest is not."""
    write_export(data_env.axiom_dirs[0], "first", "ndjson", EVENTS)
    first = build(defs(), instance, data_env)
    assert first.partitions_built["day"] == ["2025-12-22", "2025-12-23"]
    day_files = sorted((data_env.lake / "marts").glob("*/2025-12-2[23].parquet"))
    assert {p.parent.name for p in day_files} >= {"health_hourly", "gpu_hourly", "inference_stats",
                                                  "extraction_by_power"}
    mtimes = {p: p.stat().st_mtime_ns for p in day_files}

    write_export(data_env.axiom_dirs[0], "second", "ndjson", planted_events(50, "2025-12-24", offset=5000))
    before = cursor(instance)
    second = build(defs(), instance, data_env)
    assert second.axiom_days_built == ["2025-12-24"] and second.partitions_built["day"] == ["2025-12-24"]
    done = materialised_since(instance, before)
    by_day, by_run = ({f"{m.layer}/{m.name}" for m in PROJECT.models.values() if m.partitioned_by == dimension}
                      for dimension in ("day", "run_id"))
    assert {key: done.get(key) for key in by_day} == dict.fromkeys(by_day, ["2025-12-24"])
    assert not by_run & set(done)
    assert {"marts/rollouts", "marts/cache_stats", "warehouse/catalog"} <= set(done)
    assert {p: p.stat().st_mtime_ns for p in day_files} == mtimes  # the days already built were not rewritten
    with duckdb_session(data_env.catalog, read_only=True) as con:
        hours = con.execute("select count(*), sum(events) from health_hourly").fetchone()
    assert hours[1] == len(EVENTS) + 50
