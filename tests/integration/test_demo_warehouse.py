"""The demo's planted truths (diplo_pipeline/demo/plan.py), found by the warehouse after a real build.

Expected values come from the plan or are recomputed here straight from the generated files, never from
the warehouse itself.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from diplo_pipeline.demo import plan as planted


@pytest.fixture(scope="module")
def demo(demo_catalog):
    return demo_catalog


def rows(demo, sql, params=None):
    return demo["con"].execute(sql, params or {}).fetchall()


def exported_events(inbox: Path) -> list[dict]:
    """Every distinct exported event line, read straight from the NDJSON files."""
    lines = set()
    for path in sorted((inbox / "axiom").iterdir()):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as handle:
            lines.update(line.strip() for line in handle if line.strip())
    return [json.loads(line) for line in lines]


def test_every_run_with_its_planted_state(demo):
    found = dict(rows(demo, "select run_id, state from runs"))
    assert found == {run.run_id: run.state for run in demo["plan"].runs.values()}
    crashed = demo["plan"].run(planted.CRASH.run_key)
    assert rows(demo, "select state, last_step from runs where run_id = $id", {"id": crashed.run_id}) == [
        ("crashed", planted.CRASH.last_step)
    ]


def test_build_is_idempotent(demo):
    assert demo["again"].runs_changed == [] and demo["again"].axiom_days_built == []
    assert demo["again"].table_rows == demo["report"].table_rows


def test_resumed_run_has_each_step_once_with_the_later_write(demo):
    resumed = demo["plan"].run(planted.RESUME.run_key)
    steps = rows(demo, "select step, loss from run_steps where run_id = $id order by step", {"id": resumed.run_id})
    assert [s for s, _ in steps] == list(range(planted.RESUME.last_step + 1))
    first_writes = dict(rows(demo, """
        select step, value from metric_points
        where run_id = $id and key = 'benchmark/loss' and segment = 0 and step between $a and $b
    """, {"id": resumed.run_id, "a": planted.RESUME.resume_from_step, "b": planted.RESUME.crash_after_step}))
    assert len(first_writes) == planted.RESUME.crash_after_step - planted.RESUME.resume_from_step + 1
    loss = dict(steps)
    for step, first in first_writes.items():
        assert loss[step] == pytest.approx(first + planted.RESUME.relogged_loss_offset)


def test_exactly_the_planted_hour_is_degraded(demo):
    statuses = rows(demo, "select hour, status from health_hourly where status <> 'healthy'")
    assert statuses == [(planted.DEGRADED_HOUR.hour, "degraded")]


def test_italy_extraction_drop_to_the_planted_rate(demo):
    drop = planted.EXTRACTION_DROP
    got = rows(demo, """
        select orders_expected, orders_extracted, extraction_rate from extraction_by_power
        where day = $day and power_name = $power
    """, {"day": drop.day, "power": drop.power})
    assert got == [(drop.orders_expected, drop.orders_extracted, pytest.approx(drop.rate, abs=1e-12))]
    others = rows(demo, "select min(extraction_rate) from extraction_by_power where day = $day and power_name <> $p",
                  {"day": drop.day, "p": drop.power})
    assert others[0][0] >= drop.other_powers_min_rate


def test_rollout_p95_matches_an_independent_computation(demo):
    durations: dict[str, list[float]] = defaultdict(list)
    for event in exported_events(demo["inbox"]):
        if event["event"] == "rollout_complete":
            day = datetime.fromisoformat(event["_time"][:19]).date().isoformat()
            durations[day].append(event["total_duration_ms"] / 1000)
    expected = {day: float(np.percentile(values, 95)) for day, values in durations.items()}  # linear = quantile_cont
    got = {str(day): p95 for day, p95 in rows(demo, "select day, p95_s from rollout_timing where horizon_type = 'all'")}
    assert got.keys() == expected.keys()
    for day, value in expected.items():
        assert got[day] == pytest.approx(value, rel=1e-9)


def test_cache_hit_rate_across_the_counter_reset(demo):
    reset = planted.CACHE_RESET
    got = rows(demo, "select hit_rate from cache_stats where hour = $h", {"h": reset.exact_hour})
    assert got == [(pytest.approx(reset.exact_hit_rate, abs=1e-9),)]
    # Summing the cumulative counters (the old CLI's way) would be far off: make sure we did not.
    naive = rows(demo, """select sum(hits) / sum(queries) from axiom_events
                         where event = 'prefix_cache_stats' and date_trunc('hour', event_time) = $h""",
                 {"h": reset.exact_hour})[0][0]
    assert naive is None or abs(naive - reset.exact_hit_rate) > 1e-6


def test_overlapping_export_is_stored_once(demo):
    distinct = exported_events(demo["inbox"])
    assert rows(demo, "select count(*) from axiom_events")[0][0] == len(distinct)


def test_rollouts_attributed_to_their_runs(demo):
    assert rows(demo, "select attribution, count(*) from rollouts group by 1") == [
        ("unique", rows(demo, "select count(*) from rollouts")[0][0])
    ]
    healthy = demo["plan"].run("healthy")
    per_run = rows(demo, "select count(*) from rollouts where run_name = $n", {"n": healthy.name})[0][0]
    assert per_run == healthy.steps * planted.ROLLOUTS_PER_STEP


def test_threshold_checks_flag_the_planted_problems_with_values(demo):
    meta = demo["report"].check_metadata
    grad = meta["marts/run_steps:grad_norm_below_50"]
    assert grad["actual"] == pytest.approx(planted.DIVERGENCE.grad_norm_spike)
    assert "marts/run_steps:grad_norm_below_50" in demo["report"].checks_failed
    italy = meta["marts/extraction_by_power:extraction_rate_above_0_95"]
    assert italy["actual"] == pytest.approx(planted.EXTRACTION_DROP.rate)
    errors = meta["marts/health_hourly:error_rate_below_0_01"]
    assert planted.DEGRADED_HOUR.error_rate_range[0] <= errors["actual"] < planted.DEGRADED_HOUR.error_rate_range[1]
    # Integrity tests pass on good data, and the catalog was published.
    for name in ("unique_run_steps_run_id__step", "unique_axiom_events_event_id",
                 "assert_rollouts_nonnegative_duration", "assert_run_steps_time_moves_forward"):
        assert f":{name}" in " ".join(demo["report"].check_metadata)  # it ran
        assert not [c for c in demo["report"].checks_failed if c.endswith(name)]
    assert demo["report"].failed_steps == []
