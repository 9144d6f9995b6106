"""Pipeline performance over a time window: what axiom_cli.py's rollout-timing, errors, extraction-stats,
health, inference-stats and cache-stats asked for (source-data.md §3.2), on the fields that exist.

Windows end at the latest Axiom event in the warehouse, not at the wall clock: exports may be days old,
and "the last 6 hours" of a warehouse last fed a week ago would otherwise always be empty. With a run
(`--run`), every answer keeps the events int_axiom__event_runs attributes to it (the run an event names,
its rollout's time-window attribution, or the one training run whose window holds it), and the window is
the run's first to last such event unless --last/--since/--until narrow it. The queries are
`dbt_like_sql/analyses/cli/*.sql`; they cut the window with the macros of `macros/windows.sql` and share
the marts' rules and statistics through the other macros there, so a number here is the mart's number.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import duckdb

from diplo_pipeline.lib.queries.core import Answer, QueryError, RunRef, fetch, fetch_one, jsonable
from diplo_pipeline.lib.queries.targets import target_summary

DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
HEALTH_COUNTS = ("events", "error_events", "rollouts_started", "rollouts_completed", "rollouts_failed")
CACHE_COUNTS = ("samples", "queries", "hits", "prompt_tokens", "tokens_saved_est")
HEALTH_STATUSES = ("healthy", "degraded", "unhealthy")


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime
    end_inclusive: bool  # a window ending at the latest event must include that event
    run: RunRef | None = None  # only this run's events (--run)

    @property
    def params(self) -> dict:
        """The window as the analyses' parameters $start, $end, $end_inclusive and $run_name (NULL: every run)."""
        return {"start": self.start, "end": self.end, "end_inclusive": self.end_inclusive,
                "run_name": self.run.run_name if self.run else None}

    def describe(self) -> dict:
        window = {"start": jsonable(self.start), "end": jsonable(self.end), "end_inclusive": self.end_inclusive}
        return {**window, "run_id": self.run.run_id, "run_name": self.run.run_name} if self.run else window


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


def run_event_span(con: duckdb.DuckDBPyConnection, run: RunRef) -> tuple[dt.datetime, dt.datetime]:
    span = fetch_one(con, "cli/run_event_span", {"run_name": run.run_name})
    if not span["events"]:
        raise QueryError(
            f"no Axiom event is attributed to {run.run_name} ({run.run_id}): none names it, and none falls in its "
            "time window alone (`diplo events --since ...` lists the events with the run each belongs to)"
        )
    return span["first_event"], span["last_event"]


def parse_window(con: duckdb.DuckDBPyConnection, last: str | None, since: str | None, until: str | None,
                 default_last: str, run: RunRef | None = None) -> Window:
    """`--last` counts back from `--until`, else from the latest event; `--since` replaces it. With a run, the
    latest event is the run's, and without any of the three the window is the run's whole span of events."""
    if last and since:
        raise QueryError("give --last or --since, not both")
    first, latest = run_event_span(con, run) if run else (None, None)
    end = parse_timestamp("--until", until) if until else (latest or latest_event_time(con))
    if since:
        start = parse_timestamp("--since", since)
    elif run and not last:
        start = first
    else:
        start = end - parse_duration(last or default_last)
    if start > end or (start == end and until is not None):
        raise QueryError(f"empty window: {jsonable(start)} is not before {jsonable(end)}")
    return Window(start, end, end_inclusive=until is None, run=run)


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


def _share(part, whole):
    return part / whole if whole else None


def health(con: duckdb.DuckDBPyConnection, window: Window) -> Answer:
    """health_hourly's hours in the window (with a run: the same hours over the run's events), the window's
    status by the same rule over their totals, and the operating targets over the hours; hours_by_status
    keeps a bad hour visible inside a long healthy window."""
    hours = fetch(con, "cli/health_hours", window.params)
    totals = {name: sum(hour[name] for hour in hours) for name in HEALTH_COUNTS}
    totals["error_rate"] = _share(totals["error_events"], totals["events"])
    totals["completion_rate"] = _share(totals["rollouts_completed"], totals["rollouts_started"])
    status = fetch_one(con, "cli/health_status", {name: totals[name] for name in ("error_rate", "completion_rate")})
    data = {
        "time_range": window.describe(),
        "status": status["status"],
        "totals": totals,
        "hours_by_status": {state: sum(hour["status"] == state for hour in hours) for state in HEALTH_STATUSES},
        "operating_targets": target_summary(hours, fetch(con, "cli/operating_targets")),
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
    cumulative counters do not inflate them; with a run, the run's samples' differences) and their totals;
    hit_rate = hits / queries, as the mart weighs each hour's. With a run this is what `wandb_cli
    get-cache-stats -r` meant to give: the WandB cache/* keys it read were removed as wrong."""
    hours = fetch(con, "cli/cache_hours", window.params)
    totals = {name: sum(hour[name] for hour in hours) for name in CACHE_COUNTS}
    totals["hit_rate"] = _share(totals["hits"], totals["queries"])
    return Answer({"time_range": window.describe(), "cache_stats": totals, "hours": hours}, hours)


def events(con: duckdb.DuckDBPyConnection, window: Window, event: str | None, limit: int) -> Answer:
    """Raw events, newest first, as axiom_cli's `list` showed them: time, event, the run it belongs to (and
    how that was decided), its rollout, and its other fields as JSON."""
    rows = fetch(con, "cli/events", {**window.params, "wanted_event": event, "limit": limit})
    matching = rows[0]["matching"] if rows else 0
    for row in rows:
        del row["matching"]
    data = {"time_range": window.describe(), "event": event, "count": matching, "shown": len(rows), "events": rows}
    return Answer(data, rows)
