"""Pipeline performance over a time window: what axiom_cli.py's rollout-timing, errors, extraction-stats,
health, inference-stats and cache-stats asked for (source-data.md §3.2), on the fields that exist.

Windows end at the latest Axiom event in the warehouse, not at the wall clock: exports may be days old,
and "the last 6 hours" of a warehouse last fed a week ago would otherwise always be empty. The queries are
`dbt_like_sql/analyses/cli/*.sql`; they cut the window with the macros of `macros/windows.sql` and share
the marts' rules and statistics through the other macros there, so a number here is the mart's number.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import duckdb

from diplo_pipeline.lib.queries.core import Answer, QueryError, fetch, fetch_one, jsonable

DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
HEALTH_TOTALS = ("events", "error_events", "rollouts_started", "rollouts_completed", "rollouts_failed",
                 "error_rate", "completion_rate")
HEALTH_STATUSES = ("healthy", "degraded", "unhealthy")


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime
    end_inclusive: bool  # a window ending at the latest event must include that event

    @property
    def params(self) -> dict:
        """The window as the analyses' parameters $start, $end and $end_inclusive."""
        return {"start": self.start, "end": self.end, "end_inclusive": self.end_inclusive}

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
        raise QueryError(
            f"{option} {text!r}: expected an ISO-8601 time, e.g. 2025-12-23 or 2025-12-23T08:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def latest_event_time(con: duckdb.DuckDBPyConnection) -> dt.datetime:
    latest = fetch_one(con, "cli/latest_event_time")["latest"]
    if latest is None:
        raise QueryError(
            "the catalog holds no Axiom events: point DIPLO_AXIOM_DIR at exports and run `diplo build`"
        )
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
    rows = fetch(con, "cli/rollout_timing", {**window.params, "by_horizon": by_horizon})
    return Answer({"time_range": window.describe(), "timing": rows}, rows)


def errors(con: duckdb.DuckDBPyConnection, window: Window, limit: int) -> Answer:
    """Events whose name says error or fail, and failed spans, newest first, with their error text; a
    rollout's run comes from the rollouts table's time-window attribution."""
    rows = fetch(con, "cli/errors", {**window.params, "limit": limit})
    matching = rows[0]["matching"] if rows else 0
    for row in rows:
        del row["matching"]
    return Answer({"time_range": window.describe(), "count": matching, "shown": len(rows), "errors": rows}, rows)


def extraction_stats(con: duckdb.DuckDBPyConnection, window: Window, by_power: bool) -> Answer:
    """Order extraction weighted by orders (extracted / expected, over-extraction capped), and the share of
    responses that needed orders and got all of them, over the responses the warehouse classified once
    (int_axiom__order_responses, as the extraction_by_power mart does)."""
    rows = fetch(con, "cli/extraction_stats_by_power" if by_power else "cli/extraction_stats", window.params)
    return Answer({"time_range": window.describe(), "stats": rows}, rows)


def health(con: duckdb.DuckDBPyConnection, window: Window) -> Answer:
    """health_hourly's hours in the window, and the window's status by the same rule over their totals;
    hours_by_status keeps a bad hour visible inside a long healthy window."""
    hours = fetch(con, "cli/health_hours", window.params)
    whole = fetch_one(con, "cli/health_window", window.params)
    data = {
        "time_range": window.describe(),
        "status": whole["status"],
        "totals": {name: whole[name] for name in HEALTH_TOTALS},
        "hours_by_status": {status: whole[f"{status}_hours"] for status in HEALTH_STATUSES},
        "hours": hours,
    }
    return Answer(data, hours)


def inference_stats(con: duckdb.DuckDBPyConnection, window: Window, by_adapter: bool) -> Answer:
    """inference_timing_breakdown calls; --by-adapter groups by lora_name as axiom_cli did, each with the
    adapter_kind of the inference_stats mart (base, mixed, single)."""
    rows = fetch(con, "cli/inference_stats_by_adapter" if by_adapter else "cli/inference_stats", window.params)
    return Answer({"time_range": window.describe(), "stats": rows}, rows)


def cache_stats(con: duckdb.DuckDBPyConnection, window: Window) -> Answer:
    """cache_stats' hours in the window (hits and queries from counter differences, so restarts and the
    cumulative counters do not inflate them) and their totals; hit_rate = hits / queries."""
    hours = fetch(con, "cli/cache_hours", window.params)
    totals = fetch_one(con, "cli/cache_window", window.params)
    return Answer({"time_range": window.describe(), "cache_stats": totals, "hours": hours}, hours)
