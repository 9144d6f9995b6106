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

from diplo_pipeline.lib.analytics.verdicts import learning_signal_text
from diplo_pipeline.lib.reports import charts
from diplo_pipeline.lib.reports import html as h
from diplo_pipeline.lib.reports.data import Warehouse
from diplo_pipeline.lib.reports.names import run_page_names
from diplo_pipeline.lib.reports.output import PagesWritten, inputs_digest
from diplo_pipeline.lib.reports.page_inputs import RunLoader, same_warehouse
from diplo_pipeline.lib.reports.shared import findings_html
from diplo_pipeline.lib.reports.targets import operating_targets, targets_html
from diplo_pipeline.lib.reports.text import MISSING, fmt, fmt_gap, fmt_share, fmt_steps, fmt_time
from diplo_pipeline.lib.warehouse.thresholds import limit

WINDOW = timedelta(hours=24)

@dataclass
class NightlyData:
    end: datetime
    runs: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    health: list[dict[str, Any]]
    cache: dict[str, Any] | None
    low_extraction: list[dict[str, Any]]
    targets: list[dict[str, Any]]  # the operating targets over the window's hours of health_hourly

    @property
    def start(self) -> datetime:
        return self.end - WINDOW


def newest_data_time(wh: Warehouse) -> datetime | None:
    """The latest moment any source has data for: a run's last row or an Axiom event."""
    times = [
        row["t"]
        for query, table in (("newest_run_data", "runs"), ("newest_event", "axiom_events"))
        for row in wh.rows(query, needs=(table,))
        if row["t"] is not None
    ]
    return max(times, default=None)


def load_nightly(wh: Warehouse, end: datetime) -> NightlyData:
    """What the window (end - WINDOW, end] holds; each query names it `$window_start` and `$window_end`."""
    window = {"window_start": end - WINDOW, "window_end": end}
    health = wh.rows("nightly_health", needs=("health_hourly",), **window)
    return NightlyData(
        end=end,
        runs=wh.rows("nightly_runs", needs=("runs", "run_steps", "run_learning"), **window),
        findings=wh.rows("nightly_findings", needs=("findings", "runs", "run_steps"), **window),
        health=health,
        cache=wh.one("nightly_cache", needs=("cache_stats",), **window),
        low_extraction=wh.rows("nightly_low_extraction", needs=("extraction_by_power",), **window),
        targets=operating_targets(wh, health),
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
    missed = sum(1 for target in data.targets if target["met"] is False)
    return h.cards([
        ("runs started", count["started"], "info"),
        ("runs finished", count["finished"], "ok" if count["finished"] else ""),
        ("runs crashed", count["crashed"], "bad" if count["crashed"] else "ok"),
        ("still running", count["running"], ""),
        ("new error / warn findings", f"{severities.count('error')} / {severities.count('warn')}",
         "bad" if "error" in severities else ("warn" if "warn" in severities else "ok")),
        ("hours degraded or unhealthy", f"{problem_hours} of {len(statuses)}", "warn" if problem_hours else "ok"),
        ("operating targets missed", f"{missed} of {len(data.targets)}", "warn" if missed else "ok"),
    ])


def _runs_html(data: NightlyData, pages: dict[str, str]) -> str:
    def run_link(row: dict[str, Any]) -> str:
        return h.link(f"../runs/{pages[row['run_id']]}.html", row["run_name"])

    rows = [{**r, "what": _what_happened(r), "steps": fmt_steps(r["first_step"], r["last_step_in_window"]),
             "gap": fmt_gap(r["final_elo_gap"], r["final_elo_gap_ci_low"], r["final_elo_gap_ci_high"]),
             "signal": learning_signal_text(r) or MISSING}
            for r in data.runs]
    return h.table(rows, [
        ("run", run_link), ("what happened", "what"), ("state", "state"), ("steps in the window", "steps"),
        ("last step / configured", lambda r: escape(f"{fmt(r['last_step'])} / {fmt(r['total_steps'])}")),
        ("learning signal (significance)", "signal"), ("final Elo gap [95 % band]", "gap"),
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
                  empty=f"Every hour was healthy (error rate under {fmt_share(limit('error_rate_degraded'))}, "
                        f"completion rate at least {fmt_share(limit('completion_rate_degraded'))}).")
        + h.note(f"Order extraction below {fmt_share(limit('extraction_rate_min'))} on the window's days, by power:")
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
    page.section("Operating targets", targets_html(data.targets, "No Axiom events in these 24 hours."))
    return page.render()


def render_nightly_digest(wh: Warehouse, reports_dir: Path, load: RunLoader | None = None) -> PagesWritten:
    """The digest of the newest day of data, as `<date>.html` and as `latest.html`; earlier days are kept.

    `wh` answers the one-row-a-run questions (the newest data, the runs' names); the window's rows are read
    through `load` for the runs the window can hold only (`nightly_window_runs`), not for every run held."""
    folder = reports_dir / "nightly"
    out = PagesWritten(folder)
    end = newest_data_time(wh)
    if end is None:
        return out
    pages = run_page_names(wh.rows("runs", needs=("runs",)))
    window_runs = [r["run_id"] for r in wh.rows("nightly_window_runs", needs=("runs",), window_start=end - WINDOW)]
    with (load or same_warehouse(wh))(window_runs) as window_wh:
        data = load_nightly(window_wh, end)
    dated, latest = folder / f"{end.date().isoformat()}.html", folder / "latest.html"
    digest = inputs_digest([wh.has("findings"), asdict(data), pages])
    if not out.is_current(dated, digest, [latest]):
        content = nightly_html(wh, data, pages, digest)
        out.put(dated, content)
        out.put(latest, content)
    return out
