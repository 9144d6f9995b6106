"""Pipeline performance over a time window: what axiom_cli.py's rollout-timing, errors, extraction-stats,
health, inference-stats and cache-stats asked for (source-data.md §3.2), on the fields that exist.

Windows end at the latest Axiom event in the warehouse, not at the wall clock: exports may be days old,
and "the last 6 hours" of a warehouse last fed a week ago would otherwise always be empty.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import duckdb

from diplo_pipeline.lib.queries.core import Answer, QueryError, fetch, jsonable

DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
ERROR_EVENT = "(event like '%error%' or event like '%fail%' or (event = 'span_duration' and status = 'error'))"


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime
    end_inclusive: bool  # a window ending at the latest event must include that event

    @property
    def params(self) -> dict:
        return {"start": self.start, "end": self.end}

    def holds(self, column: str) -> str:
        return f"{column} >= $start and {column} {'<=' if self.end_inclusive else '<'} $end"

    def touches_hour(self, column: str) -> str:
        """An hourly row whose hour overlaps the window (hourly marts cannot be cut inside an hour)."""
        return f"{column} + interval 1 hour > $start and {column} {'<=' if self.end_inclusive else '<'} $end"

    def describe(self) -> dict:
        return {"start": jsonable(self.start), "end": jsonable(self.end), "end_inclusive": self.end_inclusive}


def parse_duration(text: str) -> dt.timedelta:
    match = DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise QueryError(f"--last {text!r}: expected a positive number and a unit m, h, d or w, e.g. 6h or 2d")
    return dt.timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def parse_timestamp(option: str, text: str) -> dt.datetime:
    """An ISO-8601 date or time; without a zone it is UTC."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise QueryError(f"{option} {text!r}: expected an ISO-8601 time, e.g. 2025-12-23 or 2025-12-23T08:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def latest_event_time(con: duckdb.DuckDBPyConnection) -> dt.datetime:
    latest = con.execute("select max(event_time) from axiom_events").fetchone()[0]
    if latest is None:
        raise QueryError("the catalog holds no Axiom events: point DIPLO_AXIOM_DIR at exports and run `diplo build`")
    return latest


def parse_window(con: duckdb.DuckDBPyConnection, last: str | None, since: str | None, until: str | None,
                 default_last: str) -> Window:
    """`--last` counts back from `--until`, else from the latest event; `--since` replaces it."""
    if last and since:
        raise QueryError("give --last or --since, not both")
    end = parse_timestamp("--until", until) if until else latest_event_time(con)
    start = parse_timestamp("--since", since) if since else end - parse_duration(last or default_last)
    if start >= end:
        raise QueryError(f"empty window: {jsonable(start)} is not before {jsonable(end)}")
    return Window(start, end, end_inclusive=until is None)


def rollout_timing(con: duckdb.DuckDBPyConnection, window: Window, by_horizon: bool) -> Answer:
    """Completed rollouts' wall time (rollout_complete.total_duration_ms, joined to rollout_start's horizon),
    with an `all` row; trajectories_per_hour divides by the hours in which rollouts completed."""
    # grouping() only accepts a column that some grouping set names: without --by-horizon there is none,
    # so the single `all` row is a plain aggregate.
    if by_horizon:
        label = "case when grouping(horizon_type) = 1 then 'all' else horizon_type end"
        grouped = "group by grouping sets ((horizon_type), ()) order by grouping(horizon_type) desc, horizon_type"
    else:
        label, grouped = "'all'", ""
    rows = fetch(
        con,
        f"""
        with completed as (
            select coalesce(horizon_type, 'unknown') as horizon_type, completed_at, duration_s, trajectories
            from rollouts
            where status = 'completed' and duration_s is not null and {window.holds('completed_at')}
        )
        select
            {label} as horizon_type,
            count(*) as rollouts,
            avg(duration_s) as avg_s,
            quantile_cont(duration_s, 0.5) as p50_s,
            quantile_cont(duration_s, 0.95) as p95_s,
            max(duration_s) as max_s,
            sum(trajectories) as trajectories,
            sum(trajectories) / nullif(count(distinct date_trunc('hour', completed_at)), 0) as trajectories_per_hour
        from completed
        {grouped}
        """,
        window.params,
    )
    return Answer({"time_range": window.describe(), "timing": rows}, rows)


def errors(con: duckdb.DuckDBPyConnection, window: Window, limit: int) -> Answer:
    """Events whose name says error or fail, and failed spans, newest first, with their error text; a
    rollout's run comes from the rollouts table's time-window attribution."""
    rows = fetch(
        con,
        f"""
        select e.event_time, e.event, coalesce(e.run_name, r.run_name) as run_name, e.rollout_id, e.span_name,
               e.error, count(*) over () as matching
        from (select * from axiom_events where {ERROR_EVENT} and {window.holds('event_time')}) as e
        left join rollouts as r using (rollout_id)
        order by e.event_time desc, e.event
        limit $limit
        """,
        {**window.params, "limit": limit},
    )
    matching = rows[0]["matching"] if rows else 0
    for row in rows:
        del row["matching"]
    return Answer({"time_range": window.describe(), "count": matching, "shown": len(rows), "errors": rows}, rows)


def extraction_stats(con: duckdb.DuckDBPyConnection, window: Window, by_power: bool) -> Answer:
    """Order extraction weighted by orders (extracted / expected, over-extraction capped), and the share of
    responses that needed orders and got all of them, over the responses the warehouse classified once
    (int_axiom__order_responses, as the extraction_by_power mart does)."""
    power = "power_name," if by_power else ""
    rows = fetch(
        con,
        f"""
        select
            {power}
            count(*) as responses,
            count(*) filter (response_kind = 'full') as "full",
            count(*) filter (response_kind = 'partial') as partial,
            count(*) filter (response_kind = 'empty') as empty,
            count(*) filter (response_kind = 'no_orders_needed') as no_orders_needed,
            sum(orders_expected) as orders_expected,
            sum(orders_extracted) as orders_extracted,
            sum(orders_extracted) / nullif(sum(orders_expected), 0) as extraction_rate,
            count(*) filter (response_kind = 'full')
                / nullif(count(*) filter (response_kind <> 'no_orders_needed'), 0) as response_success_rate
        from int_axiom__order_responses
        where {window.holds('event_time')}
        group by all
        order by all
        """,
        window.params,
    )
    return Answer({"time_range": window.describe(), "stats": rows}, rows)


def health_status(error_rate: float | None, completion_rate: float | None) -> str:
    """health_hourly's rule, applied to a whole window."""
    if error_rate is None:
        return "unknown"
    if error_rate >= 0.05 or (completion_rate is not None and completion_rate < 0.80):
        return "unhealthy"
    if error_rate >= 0.01 or (completion_rate is not None and completion_rate < 0.95):
        return "degraded"
    return "healthy"


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def health(con: duckdb.DuckDBPyConnection, window: Window) -> Answer:
    """health_hourly's hours in the window, and the window's status by the same rule over their totals;
    hours_by_status keeps a bad hour visible inside a long healthy window."""
    hours = fetch(con, f"select * from health_hourly where {window.touches_hour('hour')} order by hour", window.params)
    totals = {
        name: sum(hour[name] for hour in hours)
        for name in ("events", "error_events", "rollouts_started", "rollouts_completed", "rollouts_failed")
    }
    error_rate = _ratio(totals["error_events"], totals["events"])
    completion_rate = _ratio(totals["rollouts_completed"], totals["rollouts_started"])
    by_status = {status: sum(hour["status"] == status for hour in hours) for status in ("healthy", "degraded", "unhealthy")}
    data = {
        "time_range": window.describe(),
        "status": health_status(error_rate, completion_rate),
        "totals": {**totals, "error_rate": error_rate, "completion_rate": completion_rate},
        "hours_by_status": by_status,
        "hours": hours,
    }
    return Answer(data, hours)


def inference_stats(con: duckdb.DuckDBPyConnection, window: Window, by_adapter: bool) -> Answer:
    """inference_timing_breakdown calls; --by-adapter groups by lora_name as axiom_cli did, each with the
    adapter_kind of the inference_stats mart (base, mixed, single)."""
    adapter = (
        """lora_name,
           case when lora_name is null or lora_name = 'mixed:0_adapters' then 'base'
                when lora_name like 'mixed:%' then 'mixed' else 'single' end as adapter_kind,"""
        if by_adapter else ""
    )
    rows = fetch(
        con,
        f"""
        select
            {adapter}
            count(*) as requests,
            avg(batch_size) as avg_batch_size,
            avg(total_time_s) as avg_total_time_s,
            avg(generation_time_s) as avg_generation_time_s,
            avg(adapter_load_time_s) as avg_adapter_load_time_s,
            quantile_cont(total_time_s, 0.95) as p95_total_time_s,
            avg(input_tokens_per_second) as avg_input_tps,
            avg(output_tokens_per_second) as avg_output_tps,
            sum(tokens_generated) as tokens_generated,
            avg(prefix_cache_hit_rate) as avg_cache_hit_rate
        from axiom_events
        where event = 'inference_timing_breakdown' and {window.holds('event_time')}
        group by all
        order by all
        """,
        window.params,
    )
    return Answer({"time_range": window.describe(), "stats": rows}, rows)


def cache_stats(con: duckdb.DuckDBPyConnection, window: Window) -> Answer:
    """cache_stats' hours in the window (hits and queries from counter differences, so restarts and the
    cumulative counters do not inflate them) and their totals; hit_rate = hits / queries."""
    hours = fetch(con, f"select * from cache_stats where {window.touches_hour('hour')} order by hour", window.params)
    totals = {name: sum(hour[name] for hour in hours)
              for name in ("samples", "queries", "hits", "prompt_tokens", "tokens_saved_est")}
    totals["hit_rate"] = _ratio(totals["hits"], totals["queries"])
    return Answer({"time_range": window.describe(), "cache_stats": totals, "hours": hours}, hours)
