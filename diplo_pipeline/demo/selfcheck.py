"""Recompute the planted behaviours from the generated data and refuse to write a demo that misses one.

The rules are those of WAREHOUSE.md, computed here independently and simply: `health_hourly`, extraction by
(day, power), the cache hit rate from counter differences, the healthy run against every `findings` rule that
can fire from its rows, and the sweep ranking by final Elo gap. The computed values go into the manifest.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import defaultdict

from diplo_pipeline.demo.axiom_events import AxiomEvent
from diplo_pipeline.demo.league import final_elo_gap, registration_steps, safe_name
from diplo_pipeline.demo.planted_episodes import CACHE_RESET, DEGRADED_HOUR, DIVERGENCE, EXTRACTION_DROP
from diplo_pipeline.demo.planted_experiments import SWEEP
from diplo_pipeline.demo.run_catalogue import DemoPlan
from diplo_pipeline.demo.run_shapes import HEALTHY_LEAGUE
from diplo_pipeline.demo.simulated_system import BASELINE_SEED_ELO, POWERS
from diplo_pipeline.demo.timeline import HOUR_US, RunTimeline, to_datetime, to_us
from diplo_pipeline.demo.trainer_rows import RunRows

EVENT_BUDGET = (100_000, 250_000)
ORDERS_PER_RESPONSE = 4  # WandB logs no response count; orders_expected / 4 estimates it


class PlanNotMet(AssertionError):
    """The generated data does not carry a behaviour the plan declares."""


def verify(
    plan: DemoPlan, timelines: dict[str, RunTimeline], rows: dict[str, RunRows], events: list[AxiomEvent]
) -> dict:
    problems: list[str] = []
    facts = {
        "events": len(events),
        "health": _health(events, problems),
        "extraction": _extraction(events, problems),
        "cache": _cache(events, problems),
        "rollout_timing": _rollout_timing(events),
        "healthy_run": _healthy_run(plan, rows["healthy"], problems),
        "sweep": _sweep(plan, rows, problems),
        "final_elo_gaps": {
            key: final_elo_gap(run.name, [rows[key].by_step[s] for s in sorted(rows[key].by_step)])
            for key, run in plan.runs.items()
            if run.league
        },
    }
    if not EVENT_BUDGET[0] <= len(events) <= EVENT_BUDGET[1]:
        problems.append(f"{len(events)} Axiom events, outside {EVENT_BUDGET}")
    _divergence(rows[DIVERGENCE.run_key], problems)
    _timeline(timelines, problems)
    if problems:
        raise PlanNotMet("the demo data misses its plan:\n- " + "\n- ".join(problems))
    return facts


def _is_error(fields: dict) -> bool:
    name = fields["event"]
    return "error" in name or "fail" in name or (name == "span_duration" and fields["status"] == "error")


def _health(events: list[AxiomEvent], problems: list[str]) -> dict:
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
        if error_rate >= 0.05 or (completion is not None and completion < 0.80):
            status = "unhealthy"
        elif error_rate >= 0.01 or (completion is not None and completion < 0.95):
            status = "degraded"
        else:
            status = "healthy"
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


def _extraction(events: list[AxiomEvent], problems: list[str]) -> dict:
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


def _cache(events: list[AxiomEvent], problems: list[str]) -> dict:
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
            f"cache: resets at {resets[:5]} ({len(resets)}), hit rates {rates} (planned one reset, {CACHE_RESET.exact_hit_rate})"
        )
    return {"resets": resets, "exact_hour_hit_rates": rates}


def _rollout_timing(events: list[AxiomEvent]) -> dict:
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


def _healthy_run(plan: DemoPlan, run_rows: RunRows, problems: list[str]) -> dict:
    """The `findings` rules of WAREHOUSE.md that the healthy run's rows could trigger: none may."""
    run = plan.run("healthy")
    steps = [run_rows.by_step[s] for s in sorted(run_rows.by_step)]

    def column(key: str) -> list[float]:
        return [row[key] for row in steps]

    kl, kl_max, grad = column("benchmark/kl"), column("kl/max"), column("benchmark/grad_norm")
    reward, loss = column("benchmark/reward_mean"), column("benchmark/loss")
    checks = {
        "kl in [0.01, 0.05]": all(0.01 <= v <= 0.05 for v in kl),
        "kl/max < 7": max(kl_max) < 7,
        "grad_norm in [1, 8]": all(1 <= v <= 8 for v in grad),
        "grad_norm never > 5x trailing median": all(
            grad[i] <= 5 * statistics.median(grad[max(0, i - 10) : i]) for i in range(1, len(grad))
        ),
        "extraction/rate >= 0.97": min(column("extraction/rate")) >= 0.97,
        "empty responses < 2 %": all(
            row["extraction/empty_responses"] < 0.02 * row["extraction/orders_expected"] / ORDERS_PER_RESPONSE
            for row in steps
        ),
        "no failed rollouts": max(column("rollout/failed_count")) == 0,
        "volume reload in [2, 5]": all(2 <= v <= 5 for v in column("rollout/max_volume_reload_s")),
        "rollout max total in [80, 115]": all(80 <= v <= 115 for v in column("rollout/max_total_s")),
        "loss finite": all(math.isfinite(v) for v in loss),
        "no early reward decline": min(reward[:10]) > 0.7 * reward[0],
        "reward improves over the last third": _smoothed(reward)[-1]
        > _smoothed(reward)[2 * len(reward) // 3],
    }
    trends = _checkpoint_trends(run.name, steps)
    newest = f"{run.name}/adapter_v{registration_steps(run.steps - 1)[-1]}"
    checks["latest checkpoint not declining"] = trends[newest] != "declining"
    checks["more than half of checkpoints declining"] = (
        sum(t == "declining" for t in trends.values()) > len(trends) / 2
    )
    baselines = _baseline_changes(steps)
    checks["no baseline rises more than 20"] = max(baselines.values()) <= 20
    gap = final_elo_gap(run.name, steps)["elo_gap"]
    checks["final Elo gap near plan"] = abs(gap - HEALTHY_LEAGUE.final_gap) <= 10
    problems.extend(f"healthy run: {name}" for name, ok in checks.items() if not ok)
    return {
        "checks_passed": sorted(name for name, ok in checks.items() if ok),
        "checkpoint_trends": trends,
        "baseline_changes": baselines,
        "final_elo_gap": gap,
    }


def _smoothed(values: list[float], window: int = 10) -> list[float]:
    return [statistics.fmean(values[max(0, i - window + 1) : i + 1]) for i in range(len(values))]


def _elo_series(steps: list[dict]) -> dict[str, list[float]]:
    series: dict[str, list[float]] = defaultdict(list)
    for row in steps:
        for key, value in row.items():
            if key.startswith("elo/"):
                series[key.removeprefix("elo/")].append(value)
    return series


def _checkpoint_trends(run_name: str, steps: list[dict]) -> dict[str, str]:
    prefix = safe_name(f"{run_name}/adapter_v")
    trends = {}
    for agent, values in _elo_series(steps).items():
        if agent.startswith(prefix):
            drop = values[-1] - max(values)
            trend = "near_peak" if drop > -5 else ("slight_decline" if drop > -20 else "declining")
            trends[f"{run_name}/adapter_v{agent.removeprefix(prefix)}"] = trend
    return trends


def _baseline_changes(steps: list[dict]) -> dict[str, float]:
    series = _elo_series(steps)
    return {agent: series[agent][-1] - series[agent][0] for agent in BASELINE_SEED_ELO if agent in series}


def _sweep(plan: DemoPlan, rows: dict[str, RunRows], problems: list[str]) -> dict:
    gaps = {}
    for letter in SWEEP.tag_suffixes:
        run = plan.run(f"sweep_{letter}")
        by_step = rows[run.key].by_step
        gaps[letter] = final_elo_gap(run.name, [by_step[s] for s in sorted(by_step)])["elo_gap"]
    ranking = sorted(gaps, key=gaps.__getitem__, reverse=True)
    margin = gaps[ranking[0]] - gaps[ranking[1]]
    if ranking[:2] != [SWEEP.expected_winner, SWEEP.expected_runner_up] or margin <= 20:
        problems.append(
            f"sweep ranking {ranking} with gaps {gaps}: planted {SWEEP.expected_ranking}, margin > 20"
        )
    return {"final_elo_gaps": gaps, "ranking": ranking, "margin": margin}


def _divergence(run_rows: RunRows, problems: list[str]) -> None:
    plan = DIVERGENCE
    rows = run_rows.by_step
    if rows[plan.grad_norm_spike_step]["benchmark/grad_norm"] != plan.grad_norm_spike:
        problems.append("diverging run: the grad-norm spike is missing")
    if any(rows[s]["benchmark/kl"] <= 0.2 for s in range(plan.kl_high_steps[0], plan.kl_high_steps[1] + 1)):
        problems.append("diverging run: kl is not above 0.2 over the planted steps")
    if any(rows[s]["kl/max"] <= 10 for s in range(plan.kl_max_steps[0], plan.kl_max_steps[1] + 1)):
        problems.append("diverging run: kl/max is not above 10 over the planted steps")


def _timeline(timelines: dict[str, RunTimeline], problems: list[str]) -> None:
    spans = sorted((t.start_us, t.end_us, key) for key, t in timelines.items())
    for (_, end, key), (start, _, next_key) in itertools.pairwise(spans):
        if start < end:
            problems.append(f"runs {key} and {next_key} overlap in time")
