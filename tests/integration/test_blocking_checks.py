"""A failed blocking data test stops what depends on its table, never the catalog (README "Checks").

The bad input is what a clock step on a rollout worker produces: a `rollout_complete` whose
`total_duration_ms` is negative, which `assert_rollouts_nonnegative_duration` must catch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from diplo_pipeline import cli
from diplo_pipeline.build import _materialize, build
from diplo_pipeline.definitions import defs
from diplo_pipeline.defs.automation import downstream
from diplo_pipeline.defs.keys import AXIOM_EVENTS, AXIOM_EXPORT_FILES, CATALOG
from diplo_pipeline.defs.partitions import axiom_days_partitions, contiguous_range_tags
from diplo_pipeline.defs.warehouse.sql_models import partitioned_models
from diplo_pipeline.lib.axiom import pending_days
from diplo_pipeline.lib.lake.duck import duckdb_session, records

pytestmark = pytest.mark.slow  # builds; tests/conftest.py schedules slow modules first

CHECK = "assert_rollouts_nonnegative_duration"


def _rollout(rollout_id: str, started: str, completed: str, duration_ms: float) -> list[str]:
    return [
        json.dumps({"_time": started, "event": "rollout_start", "rollout_id": rollout_id, "horizon_type": "short"}),
        json.dumps({"_time": completed, "event": "rollout_complete", "rollout_id": rollout_id,
                    "total_duration_ms": duration_ms, "trajectories_count": 8}),
    ]


GOOD = [*_rollout("good-1", "2025-12-22T19:00:00Z", "2025-12-22T19:01:00Z", 60_000.0),
        *_rollout("good-2", "2025-12-22T19:02:00Z", "2025-12-22T19:02:30Z", 30_000.0)]
BAD = [*_rollout("skewed-1", "2025-12-22T20:00:00Z", "2025-12-22T20:00:05Z", -5_000.0),
       *_rollout("good-3", "2025-12-22T20:01:00Z", "2025-12-22T20:01:40Z", 40_000.0)]


def _export(inbox: Path, name: str, lines: list[str]) -> None:
    (inbox / name).write_text("\n".join(lines) + "\n")


def _rows(catalog: Path, sql: str) -> list[tuple]:
    with duckdb_session(catalog, read_only=True) as con:
        return con.execute(sql).fetchall()


def _status(catalog: Path) -> dict[str, dict]:
    with duckdb_session(catalog, read_only=True) as con:
        return {row["relation"]: row for row in records(con.sql("select * from catalog_status"))}


def _tables(catalog: Path) -> set[str]:
    return {name for (name,) in _rows(catalog, "select table_name from information_schema.tables")}


def test_first_build_publishes_everything_but_the_failed_table_and_says_why(data_env, instance):
    _export(data_env.axiom_dirs[0], "events.ndjson", GOOD + BAD)
    report = build(defs(), instance, data_env)

    assert data_env.catalog.exists()  # no earlier catalog, and still one now
    status = _status(data_env.catalog)
    rollouts = status["rollouts"]
    assert (rollouts["served"], rollouts["failed_check"], rollouts["offending_rows"]) == ("left_out", CHECK, 1)
    assert [row["rollout_id"] for row in json.loads(rollouts["first_rows"])] == ["skewed-1"]
    assert "no earlier version passed" in rollouts["reason"]
    timing = status["rollout_timing"]  # built on rollouts: held back, and it says so
    assert timing["served"] == "left_out" and f"rollouts failed {CHECK}" in timing["reason"]

    tables = _tables(data_env.catalog)
    assert "rollouts" not in tables and "rollout_timing" not in tables
    # Everything else is there, and good input beside the bad rollout is untouched.
    left_out = {name for name, row in status.items() if row["served"] == "left_out"}
    # int_axiom__event_runs attributes events through their rollout's run: held back with the rollouts too
    assert left_out == {"rollouts", "rollout_timing", "int_axiom__event_runs"}
    assert "it reads rollouts, which the catalog leaves out" in status["int_axiom__event_runs"]["reason"]
    assert {name for name, row in status.items() if row["served"] == "current"} <= tables
    assert _rows(data_env.catalog, "select count(*) from axiom_events") == [(len(GOOD + BAD),)]
    assert _rows(data_env.catalog, "select sum(rollouts_completed) from health_hourly") == [(4,)]
    assert report.blocking_failures == [rollouts | {"file": None}]
    assert "rollouts" not in report.table_rows and report.table_rows["axiom_events"] == len(GOOD + BAD)


def test_after_a_good_build_the_failed_table_is_served_at_its_last_good_version(data_env, instance):
    _export(data_env.axiom_dirs[0], "day1.ndjson", GOOD)
    first = build(defs(), instance, data_env)
    assert first.catalog_problems == [] and first.blocking_failures == []
    good_ids = _rows(data_env.catalog, "select rollout_id from rollouts order by 1")
    good_timing = _rows(data_env.catalog, "select * from rollout_timing order by all")

    _export(data_env.axiom_dirs[0], "day2.ndjson", BAD)
    second = build(defs(), instance, data_env)
    status = _status(data_env.catalog)
    assert status["rollouts"]["served"] == "last_good" and status["rollouts"]["failed_check"] == CHECK
    assert status["rollouts"]["file"].endswith("marts/rollouts.good.parquet")
    assert _rows(data_env.catalog, "select rollout_id from rollouts order by 1") == good_ids
    assert status["rollout_timing"]["served"] == "previous"
    assert _rows(data_env.catalog, "select * from rollout_timing order by all") == good_timing
    # The new events themselves are in: only the broken table and what is built on it stay behind.
    assert _rows(data_env.catalog, "select count(*) from axiom_events") == [(len(GOOD + BAD),)]
    assert [row["relation"] for row in second.blocking_failures] == ["rollouts"]

    # Fixed at the source: the new version passes, is served, and becomes the last good one.
    _export(data_env.axiom_dirs[0], "day2.ndjson", BAD[2:])
    third = build(defs(), instance, data_env)
    assert third.catalog_problems == []
    assert _rows(data_env.catalog, "select rollout_id from rollouts order by 1") == [
        ("good-1",), ("good-2",), ("good-3",)]
    good = data_env.lake / "marts" / "rollouts.good.parquet"
    assert os.path.samefile(good, data_env.lake / "marts" / "rollouts.parquet")


def test_diplo_build_exits_non_zero_naming_the_check_and_the_rows(data_env, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    _export(data_env.axiom_dirs[0], "events.ndjson", GOOD + BAD)
    assert cli.main(["build"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"rollouts: {CHECK} found 1 offending row" in err
    assert "skewed-1" in err and "-5.0" in err  # the offending row itself
    assert "left out of the catalog" in err and "rollout_timing" in err
    assert data_env.catalog.exists()


def test_automation_holds_back_what_is_built_on_a_failed_table_but_publishes_the_catalog(data_env, instance):
    """The sensor path on a fresh instance: the export is staged, then everything downstream runs in one run
    (as the automation sensor requests it), and the failed test skips the catalog there. The next tick must
    publish the catalog anyway (rollout_timing is missing for good) and must not build on rollouts."""
    definitions = defs()
    cursor = dg.evaluate_automation_conditions(defs=definitions, instance=instance).cursor
    _export(data_env.axiom_dirs[0], "events.ndjson", GOOD + BAD)
    _materialize(definitions, instance, [AXIOM_EXPORT_FILES])
    _materialize(definitions, instance, [AXIOM_EVENTS], tags=contiguous_range_tags(
        instance.get_dynamic_partitions(axiom_days_partitions.name), pending_days.pending_days(data_env)))
    # This inbox holds no WandB run, so no partition of the per-run models: the rest runs as one run.
    result = _materialize(definitions, instance, downstream - partitioned_models, raise_on_error=False)
    assert result.asset_materializations_for_node("marts__rollouts")  # built, then failed its test
    assert not result.asset_materializations_for_node("warehouse__catalog")  # skipped in that run

    tick = dg.evaluate_automation_conditions(defs=definitions, instance=instance, cursor=cursor)
    assert tick.get_num_requested(CATALOG) == 1
    assert tick.get_num_requested(dg.AssetKey(["marts", "rollout_timing"])) == 0
    assert tick.get_num_requested(dg.AssetKey(["reports", "run_reports"])) == 0


@pytest.fixture(autouse=True)
def _in_a_scratch_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # `diplo build` creates .dagster_home in the working directory by default
