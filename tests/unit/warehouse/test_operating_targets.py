"""The guides' operating targets in health_hourly and as thresholds.yml checks, on Axiom events with a known
answer: one set that breaches every target and alert by a known amount, one healthy set (every value on
the good side, the alerts exactly at their limits) that raises nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from diplo_pipeline.lib.queries.targets import target_summary
from diplo_pipeline.lib.warehouse.thresholds import limit, load_thresholds
from tests.helpers.axiom_warehouse import axiom_warehouse

TARGET_CHECKS = {
    "trajectories_per_hour_at_least_400", "trajectories_per_rollout_at_least_7", "output_tps_at_least_50",
    "input_tps_at_least_500", "batch_size_at_least_4", "empty_responses_below_0_05", "partial_responses_below_0_10",
    "no_rollout_error_alert", "no_empty_orders_alert",
}
DAY = datetime.fromisoformat("2025-12-22T00:00:00+00:00")


def at(hour: int, minute: float) -> str:
    return (DAY + timedelta(hours=hour, minutes=minute)).isoformat().replace("+00:00", "Z")


def rollouts(hour: int, trajectories: list[int], duration_s: float, prefix: str) -> list[dict]:
    events = []
    for i, count in enumerate(trajectories):
        rid = f"{prefix}-{hour}-{i}"
        events += [{"_time": at(hour, i), "event": "rollout_start", "rollout_id": rid, "horizon_type": "short"},
                   {"_time": at(hour, i + 2), "event": "rollout_complete", "rollout_id": rid,
                    "trajectories_count": count, "total_duration_ms": duration_s * 1000}]
    return events


def calls(hour: int, output_tps: list[float], input_tps: float, batch: int) -> list[dict]:
    return [{"_time": at(hour, 30 + i / 10), "event": "inference_timing_breakdown", "batch_size": batch,
             "lora_name": "mixed:2_adapters", "output_tokens_per_second": tps, "input_tokens_per_second": input_tps,
             "generation_time_s": 3.0, "total_time_s": 3.1, "adapter_load_time_s": 0.0, "tokens_generated": 100}
            for i, tps in enumerate(output_tps)]


def responses(hour: int, full: int, empty: int, partial: int, start: float = 0.0, spacing: float = 0.5) -> list[dict]:
    kinds = ["orders_empty"] * empty + ["orders_partial"] * partial + ["orders_extracted"] * full
    return [{"_time": at(hour, start + i * spacing), "event": kind, "rollout_id": f"orders-{hour}",
             "power_name": "FRANCE", "expected_count": 3, "orders_count": {"orders_empty": 0,
                                                                           "orders_partial": 1}.get(kind, 3),
             "status": "full", "phase": "SPRING 1901 MOVEMENT"} for i, kind in enumerate(kinds)]


def rollout_errors(hour: int, minutes: list[float]) -> list[dict]:
    return [{"_time": at(hour, m), "event": "rollout_error", "rollout_id": f"failed-{hour}-{i}", "error": "boom",
             "phase": ""} for i, m in enumerate(minutes)]


def breaching_events() -> list[dict]:
    """Hour 1: the throughput, trajectory, inference and share targets missed by known amounts. Hour 3: six
    rollout_error events within 50 minutes, and eleven orders_empty within 15 minutes that straddle a
    quarter-hour boundary (03:07:30 to 03:22:30: clock quarters would miss it)."""
    return [
        *rollouts(1, [6, 6], 120.0, "slow"),  # 6 per rollout; 3600 x 12 / 240 s = 180 per hour
        *calls(1, [40.0, 44.0], 400.0, 3),  # output 42 tok/s, input 400 tok/s, batch 3
        *responses(1, full=83, empty=6, partial=11),  # 6 % empty, 11 % partial of 100 responses needing orders
        *rollout_errors(3, [0, 10, 20, 30, 40, 50]),
        *responses(3, full=0, empty=11, partial=0, start=7.5, spacing=1.5),  # 10:07:30 .. 10:22:30
        *responses(3, full=250, empty=0, partial=0, start=25.0, spacing=0.1),  # the share stays under 5 %
    ]


def healthy_events() -> list[dict]:
    """Every target met, the alerts exactly at their limits: five rollout_error in an hour, ten orders_empty in
    15 minutes (an hour of their own, with enough good responses to keep the empty share under 5 %)."""
    return [
        *rollouts(1, [8, 8, 8], 60.0, "fast"),  # 8 per rollout; 3600 x 24 / 180 s = 480 per hour
        *calls(1, [60.0, 80.0], 900.0, 8),
        *responses(1, full=95, empty=0, partial=5),
        *rollout_errors(3, [0, 12, 24, 36, 48]),
        *responses(4, full=250, empty=10, partial=0, start=0.0, spacing=0.2),
    ]


@pytest.fixture(scope="module")
def breached(tmp_path_factory):
    con = axiom_warehouse(tmp_path_factory.mktemp("breached"), breaching_events(), ["health_hourly"])
    yield con
    con.close()


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    con = axiom_warehouse(tmp_path_factory.mktemp("healthy"), healthy_events(), ["health_hourly"])
    yield con
    con.close()


def hours(con) -> dict[int, dict]:
    cursor = con.execute("select * from health_hourly order by hour")
    names = [c[0] for c in cursor.description]
    return {row["hour"].hour: row for row in (dict(zip(names, r, strict=True)) for r in cursor.fetchall())}


def check_outcomes(con) -> dict[str, tuple[bool, float | None]]:
    return {t.name: t.evaluate(con)[:2] for t in load_thresholds() if t.name in TARGET_CHECKS}


def test_every_target_is_a_check_with_its_limit():
    assert TARGET_CHECKS <= {t.name for t in load_thresholds()}
    assert (limit("trajectories_per_hour_min"), limit("trajectories_per_rollout_min"), limit("output_tps_min"),
            limit("input_tps_min"), limit("batch_size_min"), limit("empty_share_max"), limit("partial_share_max"),
            limit("rollout_error_alert_count"), limit("empty_orders_alert_count")) == (
        400, 7, 50, 500, 4, 0.05, 0.10, 5, 10)


def test_a_breaching_hour_has_the_planted_values_and_misses_each_target(breached):
    first = hours(breached)[1]
    assert first["trajectories_per_rollout"] == 6 and first["trajectories_per_hour"] == pytest.approx(180)
    assert (first["avg_output_tps"], first["avg_input_tps"], first["avg_batch_size"]) == (42, 400, 3)
    assert (first["order_responses"], first["empty_share"], first["partial_share"]) == (100, 0.06, 0.11)
    assert first["targets_missed"] == ["trajectories_per_hour", "trajectories_per_rollout", "output_tps",
                                       "input_tps", "batch_size", "empty_responses", "partial_responses"]


def test_the_alert_rules_fire_on_their_planted_bursts(breached):
    third = hours(breached)[3]
    assert (third["peak_rollout_errors_1h"], third["peak_empty_orders_15m"]) == (6, 11)
    assert third["targets_missed"] == ["rollout_error_alert", "empty_orders_alert"]
    assert third["empty_share"] < limit("empty_share_max")  # the burst alone raises the alert


def test_every_target_check_warns_on_the_breach_with_the_planted_value(breached):
    outcomes = check_outcomes(breached)
    assert {name for name, (passed, _) in outcomes.items() if not passed} == TARGET_CHECKS
    assert outcomes["no_rollout_error_alert"][1] == 6 and outcomes["no_empty_orders_alert"][1] == 11
    assert outcomes["output_tps_at_least_50"][1] == 42 and outcomes["trajectories_per_hour_at_least_400"][1] == 180


def test_a_healthy_set_at_the_alert_limits_raises_nothing(healthy):
    by_hour = hours(healthy)
    assert all(hour["targets_missed"] == [] for hour in by_hour.values())
    assert (by_hour[3]["peak_rollout_errors_1h"], by_hour[4]["peak_empty_orders_15m"]) == (5, 10)
    assert by_hour[1]["trajectories_per_hour"] == pytest.approx(480)
    assert all(passed for passed, _ in check_outcomes(healthy).values())


def test_the_summary_names_each_missed_target_with_its_worst_hour(breached):
    targets = [dict(zip(("target", "measure", "direction", "limit_value"), row, strict=True))
               for row in breached.execute("select * from (select unnest(operating_targets(), recursive := true))")
               .fetchall()]
    summary = {row["target"]: row for row in target_summary(list(hours(breached).values()), targets)}
    assert all(row["met"] is False for row in summary.values())
    assert summary["output_tps"]["worst"] == 42 and summary["output_tps"]["worst_hour"].hour == 1
    assert summary["rollout_error_alert"]["hours_missed"] == 1 and summary["rollout_error_alert"]["worst"] == 6
