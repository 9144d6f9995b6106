"""The planted behaviours recomputed from the Axiom events: hourly health, extraction by (day, power), the
exact hour's cache hit rate, and the rollout timing the manifest records.

Each function appends what the data misses to `problems` and returns the facts it computed.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict

from diplo_pipeline.demo.axiom_events import AxiomEvent
from diplo_pipeline.demo.planted_episodes import CACHE_RESET, DEGRADED_HOUR, EXTRACTION_DROP
from diplo_pipeline.demo.simulated_system import POWERS
from diplo_pipeline.demo.timeline import HOUR_US, to_datetime, to_us
from diplo_pipeline.lib.warehouse.thresholds import limit


def _is_error(fields: dict) -> bool:
    name = fields["event"]
    return "error" in name or "fail" in name or (name == "span_duration" and fields["status"] == "error")


def _health_status(error_rate: float, completion: float | None) -> str:
    """health_hourly's rule, with the warehouse's own limits (thresholds.yml): what the degraded hour must meet."""
    if error_rate >= limit("error_rate_unhealthy") or (
        completion is not None and completion < limit("completion_rate_unhealthy")
    ):
        return "unhealthy"
    if error_rate >= limit("error_rate_degraded") or (
        completion is not None and completion < limit("completion_rate_degraded")
    ):
        return "degraded"
    return "healthy"


def health_facts(events: list[AxiomEvent], problems: list[str]) -> dict:
    hours: dict[int, dict] = defaultdict(lambda: {"events": 0, "errors": 0, "started": 0, "completed": 0})
    for event in events:
        hour = hours[event.time_us // HOUR_US]
        hour["events"] += 1
        hour["errors"] += _is_error(event.fields)
        hour["started"] += event.fields["event"] == "rollout_start"
        hour["completed"] += event.fields["event"] == "rollout_complete"
    degraded = to_us(DEGRADED_HOUR.hour) // HOUR_US
    if degraded not in hours:
        problems.append(f"no events in the degraded hour {DEGRADED_HOUR.hour}")
    statuses, degraded_facts = {}, None
    for hour, counts in sorted(hours.items()):
        error_rate = counts["errors"] / counts["events"]
        completion = counts["completed"] / counts["started"] if counts["started"] else None
        status = _health_status(error_rate, completion)
        label = to_datetime(hour * HOUR_US).isoformat()
        statuses[label] = status
        if (status == "degraded") != (hour == degraded) or status == "unhealthy":
            problems.append(f"hour {label} is {status} ({counts}, error rate {error_rate:.4f})")
        if hour == degraded:
            low, high = DEGRADED_HOUR.error_rate_range
            if not low <= error_rate < high:
                problems.append(f"degraded hour error rate {error_rate:.4f} outside [{low}, {high})")
            low, high = DEGRADED_HOUR.completion_rate_range
            if completion is None or not low <= completion <= high:
                problems.append(f"degraded hour completion rate {completion} outside [{low}, {high}]")
            degraded_facts = {
                **counts,
                "error_rate": error_rate,
                "completion_rate": completion,
                "status": status,
            }
    return {
        "hours": len(statuses),
        "degraded_hour": degraded_facts,
        "healthy_hours": sum(status == "healthy" for status in statuses.values()),
    }


def extraction_facts(events: list[AxiomEvent], problems: list[str]) -> dict:
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for event in events:
        fields = event.fields
        if fields["event"] in ("orders_extracted", "orders_partial", "orders_empty"):
            total = totals[(to_datetime(event.time_us).date().isoformat(), fields["power_name"])]
            total[0] += fields["expected_count"]
            total[1] += min(fields.get("orders_count", 0), fields["expected_count"])
    plan = EXTRACTION_DROP
    day = plan.day.isoformat()
    italy = totals[(day, plan.power)]
    if italy != [plan.orders_expected, plan.orders_extracted]:
        problems.append(
            f"{plan.power} on {day}: {italy[1]}/{italy[0]}, planned {plan.orders_extracted}/{plan.orders_expected}"
        )
    others = {p: totals[(day, p)][1] / totals[(day, p)][0] for p in POWERS if p != plan.power}
    if min(others.values()) < plan.other_powers_min_rate:
        problems.append(f"other powers on {day} fall below {plan.other_powers_min_rate}: {others}")
    lowest_elsewhere = min(
        (extracted / expected, day_, power)
        for (day_, power), (expected, extracted) in totals.items()
        if day_ != day and expected
    )
    if lowest_elsewhere[0] < 0.97:
        problems.append(f"extraction {lowest_elsewhere} below 0.97 outside the planted day")
    return {
        "planted_day": {
            "power": plan.power,
            "orders_expected": italy[0],
            "orders_extracted": italy[1],
            "rate": italy[1] / italy[0],
            "other_powers": others,
        },
        "lowest_elsewhere": lowest_elsewhere,
    }


def cache_facts(events: list[AxiomEvent], problems: list[str]) -> dict:
    samples = [
        (e.time_us, e.fields["queries"], e.fields["hits"])
        for e in events
        if e.fields["event"] == "prefix_cache_stats"
    ]
    resets = [
        to_datetime(t).isoformat()
        for (_, previous, _), (t, q, _) in itertools.pairwise(samples)
        if q < previous
    ]
    start = to_us(CACHE_RESET.exact_hour)
    end = start + HOUR_US
    with_previous = [0, 0]  # each sample in the hour minus the sample before it (a reset counts from zero)
    within_hour = [0, 0]  # only pairs of samples that are both in the hour
    for (previous_time, previous_queries, previous_hits), (time_us, queries, hits) in itertools.pairwise(
        samples
    ):
        if not start <= time_us < end:
            continue
        delta = (
            (queries, hits)
            if queries < previous_queries
            else (queries - previous_queries, hits - previous_hits)
        )
        with_previous[0] += delta[0]
        with_previous[1] += delta[1]
        if previous_time >= start:
            within_hour[0] += delta[0]
            within_hour[1] += delta[1]
    rates = {
        "with_previous_sample": with_previous[1] / with_previous[0],
        "within_hour": within_hour[1] / within_hour[0],
    }
    if len(resets) != 1 or set(rates.values()) != {CACHE_RESET.exact_hit_rate}:
        problems.append(
            f"cache: resets at {resets[:5]} ({len(resets)}), hit rates {rates} "
            f"(planned one reset, {CACHE_RESET.exact_hit_rate})"
        )
    return {"resets": resets, "exact_hour_hit_rates": rates}


def rollout_timing_facts(events: list[AxiomEvent]) -> dict:
    """p50/p95 of `rollout_complete.total_duration_ms` per day and horizon (linear interpolation, as DuckDB's
    quantile_cont), for whoever checks the warehouse's rollout_timing against the data."""
    horizons = {
        e.fields["rollout_id"]: e.fields["horizon_type"]
        for e in events
        if e.fields["event"] == "rollout_start"
    }
    durations: dict[tuple[str, str], list[float]] = defaultdict(list)
    for event in events:
        if event.fields["event"] == "rollout_complete":
            day = to_datetime(event.time_us).date().isoformat()
            seconds = event.fields["total_duration_ms"] / 1000
            durations[(day, horizons[event.fields["rollout_id"]])].append(seconds)
            durations[(day, "all")].append(seconds)
    timing = {}
    for (day, horizon), values in sorted(durations.items()):
        cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
        p50, p95 = cuts[49], cuts[94]
        timing[f"{day}/{horizon}"] = {
            "rollouts": len(values),
            "p50_s": p50,
            "p95_s": p95,
            "max_s": max(values),
        }
    return timing
