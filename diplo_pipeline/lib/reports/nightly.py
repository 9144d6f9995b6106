"""`nightly/<YYYY-MM-DD>.html` and `nightly/latest.html`: what changed in the 24 hours before the newest data.

The window ends at the newest timestamp in the warehouse, not at the wall clock: a digest of historical
data (the demo is December 2025) still shows its last day, and rebuilding without new data reproduces the
same page byte for byte. The page says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

from diplo_pipeline.lib.reports import charts
from diplo_pipeline.lib.reports import html as h
from diplo_pipeline.lib.reports.data import Warehouse
from diplo_pipeline.lib.reports.names import run_page_names
from diplo_pipeline.lib.reports.output import PagesWritten, inputs_digest
from diplo_pipeline.lib.reports.shared import findings_html
from diplo_pipeline.lib.reports.text import fmt, fmt_gap, fmt_steps, fmt_time

WINDOW = timedelta(hours=24)

# Runs with anything in the window, and what happened to each. A crashed run has no exit record: its end
# is its last data.
RUNS_SQL = """
with trained as (
    select run_id, count(*) as steps_in_window, min(step) as first_step, max(step) as last_step_in_window
    from run_steps where timestamp > $start and timestamp <= $end group by run_id
)
select r.run_id, r.run_name, r.state, r.run_kind, r.created_at, r.last_timestamp, r.last_step, r.total_steps,
       r.created_at > $start and r.created_at <= $end as started,
       r.state = 'finished' and r.finished_at > $start and r.finished_at <= $end as finished,
       r.state = 'crashed' and coalesce(r.finished_at, r.last_timestamp) > $start
           and coalesce(r.finished_at, r.last_timestamp) <= $end as crashed,
       r.state = 'running' as running,
       t.steps_in_window, t.first_step, t.last_step_in_window,
       l.learning_signal, l.final_elo_gap, l.final_elo_gap_ci_low, l.final_elo_gap_ci_high
from runs as r
left join trained as t using (run_id)
left join run_learning as l using (run_id)
where t.run_id is not null or r.state = 'running'
   or (r.created_at > $start and r.created_at <= $end)
   or (coalesce(r.finished_at, r.last_timestamp) > $start and coalesce(r.finished_at, r.last_timestamp) <= $end)
order by r.created_at, r.run_id
"""
# A finding is new when its episode began in the window (the time its first step was logged).
FINDINGS_SQL = """
select f.*, coalesce(s.timestamp, r.last_timestamp) as seen_at
from findings as f
join runs as r using (run_id)
left join run_steps as s on s.run_id = f.run_id and s.step = f.step_start
where coalesce(s.timestamp, r.last_timestamp) > $start and coalesce(s.timestamp, r.last_timestamp) <= $end
order by case f.severity when 'error' then 0 when 'warn' then 1 else 2 end, seen_at, f.run_name, f.rule
"""
HEALTH_SQL = """
select * from health_hourly where hour >= date_trunc('hour', $start::timestamptz) and hour <= $end order by hour
"""
CACHE_SQL = """
select min(hit_rate) as lowest_hourly_hit_rate, sum(hits) / nullif(sum(queries), 0) as hit_rate,
       sum(queries) as queries
from cache_stats where hour >= date_trunc('hour', $start::timestamptz) and hour <= $end
"""
EXTRACTION_SQL = """
select day, power_name, extraction_rate, orders_expected, orders_extracted
from extraction_by_power
where day between cast($start as date) and cast($end as date) and extraction_rate < 0.95
order by extraction_rate
"""


@dataclass
class NightlyData:
    end: datetime
    runs: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    health: list[dict[str, Any]]
    cache: dict[str, Any] | None
    low_extraction: list[dict[str, Any]]

    @property
    def start(self) -> datetime:
        return self.end - WINDOW


def newest_data_time(wh: Warehouse) -> datetime | None:
    """The latest moment any source has data for: a run's last row or an Axiom event."""
    times = [
        row["t"]
        for sql, table in (("select max(last_timestamp) as t from runs", "runs"),
                           ("select max(event_time) as t from axiom_events", "axiom_events"))
        for row in wh.rows(sql, needs=(table,))
        if row["t"] is not None
    ]
    return max(times, default=None)


def load_nightly(wh: Warehouse, end: datetime) -> NightlyData:
    window = {"start": end - WINDOW, "end": end}
    return NightlyData(
        end=end,
        runs=wh.rows(RUNS_SQL, window, needs=("runs", "run_steps", "run_learning")),
        findings=wh.rows(FINDINGS_SQL, window, needs=("findings", "runs", "run_steps")),
        health=wh.rows(HEALTH_SQL, window, needs=("health_hourly",)),
        cache=wh.one(CACHE_SQL, window, needs=("cache_stats",)),
        low_extraction=wh.rows(EXTRACTION_SQL, window, needs=("extraction_by_power",)),
    )


def _what_happened(run: dict[str, Any]) -> str:
    events = [word for word in ("started", "finished", "crashed") if run[word]]
    if run["running"]:
        events.append("still running")
    if run["steps_in_window"] and not events:
        events.append("trained")
    return ", ".join(events) or "no new data"


def _headline(data: NightlyData) -> str:
    count = {word: sum(1 for r in data.runs if r[word]) for word in ("started", "finished", "crashed", "running")}
    severities = [f["severity"] for f in data.findings]
    statuses = [hour["status"] for hour in data.health]
    problem_hours = sum(1 for s in statuses if s != "healthy")
    return h.cards([
        ("runs started", count["started"], "info"),
        ("runs finished", count["finished"], "ok" if count["finished"] else ""),
        ("runs crashed", count["crashed"], "bad" if count["crashed"] else "ok"),
        ("still running", count["running"], ""),
        ("new error / warn findings", f"{severities.count('error')} / {severities.count('warn')}",
         "bad" if "error" in severities else ("warn" if "warn" in severities else "ok")),
        ("hours degraded or unhealthy", f"{problem_hours} of {len(statuses)}", "warn" if problem_hours else "ok"),
    ])


def _runs_html(data: NightlyData, pages: dict[str, str]) -> str:
    def run_link(row: dict[str, Any]) -> str:
        return h.link(f"../runs/{pages[row['run_id']]}.html", row["run_name"])

    rows = [{**r, "what": _what_happened(r), "steps": fmt_steps(r["first_step"], r["last_step_in_window"]),
             "gap": fmt_gap(r["final_elo_gap"], r["final_elo_gap_ci_low"], r["final_elo_gap_ci_high"])}
            for r in data.runs]
    return h.table(rows, [
        ("run", run_link), ("what happened", "what"), ("state", "state"), ("steps in the window", "steps"),
        ("last step / configured", lambda r: escape(f"{fmt(r['last_step'])} / {fmt(r['total_steps'])}")),
        ("learning signal", "learning_signal"), ("final Elo gap [95 % band]", "gap"),
    ], empty="No run started, trained, finished or crashed in these 24 hours.")


def _health_html(page: h.Page, data: NightlyData) -> str:
    if not data.health:
        return h.note("No Axiom events in these 24 hours.")
    totals = {key: sum(hour[key] or 0 for hour in data.health)
              for key in ("events", "error_events", "rollouts_started", "rollouts_completed", "rollouts_failed")}
    cache = data.cache or {}
    summary = (
        f"{fmt(totals['events'])} events, {fmt(totals['error_events'])} of them errors "
        f"({totals['error_events'] / totals['events']:.2%}); rollouts: {fmt(totals['rollouts_started'])} started, "
        f"{fmt(totals['rollouts_completed'])} completed, {fmt(totals['rollouts_failed'])} failed. "
        f"Prefix-cache hit rate {fmt(cache.get('hit_rate'))} overall, lowest hour "
        f"{fmt(cache.get('lowest_hourly_hit_rate'))}."
    )
    problems = [hour for hour in data.health if hour["status"] != "healthy"]
    return (
        h.paragraph(escape(summary))
        + page.chart("health", charts.health_chart(data.health))
        + h.table(problems, [("hour", "hour"), ("status", "status"), ("events", "events"),
                             ("error events", "error_events"), ("error rate", "error_rate"),
                             ("completion rate", "completion_rate")],
                  empty="Every hour was healthy (error rate under 1 %, completion rate at least 95 %).")
        + h.note("Order extraction below 95 % on the window's days, by power:")
        + h.table(data.low_extraction, [("day", "day"), ("power", "power_name"), ("rate", "extraction_rate"),
                                        ("orders expected", "orders_expected")], empty="none")
    )


def nightly_html(wh: Warehouse, data: NightlyData, pages: dict[str, str], digest: str = "") -> str:
    subtitle = (
        f"The 24 hours up to the newest data in the warehouse: {escape(fmt_time(data.start))} → "
        f"{escape(fmt_time(data.end))}. The window is counted back from the newest data, not from the clock, "
        "so a digest of older data still shows its last day. "
        + h.link("../tracker.md", "Experiment tracker")
    )
    page = h.Page(f"Nightly digest {data.end.date().isoformat()}", subtitle, digest)
    page.section("Summary", _headline(data))
    page.section("Runs", _runs_html(data, pages))

    def run_link(row: dict[str, Any]) -> str:
        return h.link(f"../runs/{pages[row['run_id']]}.html", row["run_name"])

    page.section("New findings", findings_html(wh, data.findings, run_link))
    page.section("Health", _health_html(page, data))
    return page.render()


def render_nightly_digest(wh: Warehouse, reports_dir: Path) -> PagesWritten:
    """The digest of the newest day of data, as `<date>.html` and as `latest.html`; earlier days are kept."""
    folder = reports_dir / "nightly"
    out = PagesWritten(folder)
    end = newest_data_time(wh)
    if end is None:
        return out
    data = load_nightly(wh, end)
    pages = run_page_names(wh.rows("select run_id, run_name from runs"))
    dated, latest = folder / f"{end.date().isoformat()}.html", folder / "latest.html"
    digest = inputs_digest([wh.has("findings"), asdict(data), pages])
    if not out.is_current(dated, digest, [latest]):
        content = nightly_html(wh, data, pages, digest)
        out.put(dated, content)
        out.put(latest, content)
    return out
