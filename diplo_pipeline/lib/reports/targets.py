"""The "Operating targets" section of the run report and the nightly digest: the guides' targets (throughput,
trajectories per rollout, tokens/s, batch size, empty and partial responses, the two alert rules) summed up
over the hours shown, by `lib/queries/targets.py` from health_hourly's columns (or a run's hours computed the
same way). Every limit is thresholds.yml's, read through the catalog's macros."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from diplo_pipeline.lib.queries.targets import target_summary
from diplo_pipeline.lib.reports import html as h
from diplo_pipeline.lib.reports.data import Warehouse
from diplo_pipeline.lib.reports.markdown import md_table
from diplo_pipeline.lib.reports.text import fmt, fmt_time

# Far enough apart to hold any run: a run's hours are all of its attributed events (a rollout that started in
# its window may complete after its last logged step), not a clock window.
EVER = (datetime.fromisoformat("1970-01-01T00:00:00+00:00"), datetime.fromisoformat("2999-01-01T00:00:00+00:00"))


def run_hours(wh: Warehouse, run_name: str) -> list[dict[str, Any]]:
    """The hours of the run's attributed Axiom events, with health_hourly's columns (`diplo health --run`)."""
    return wh.rows("cli/health_hours", needs=("health_hourly", "int_axiom__event_runs"), start=EVER[0],
                   end=EVER[1], end_inclusive=True, run_name=run_name)


def operating_targets(wh: Warehouse, hours: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per target: hours measured and missed, the worst value and its hour (none without hours)."""
    if not hours:
        return []
    return target_summary(hours, wh.rows("operating_targets", needs=("health_hourly",)))


def _row(target: dict[str, Any]) -> dict[str, Any]:
    verdict = "not measured" if target["met"] is None else ("met" if target["met"] else "missed")
    return {**target, "verdict": verdict, "worst_hour": fmt_time(target["worst_hour"]) if target["worst_hour"]
            else None, "hours": f"{target['hours_missed']} of {target['hours_measured']}"}


COLUMNS = [("target", "target"), ("rule", "rule"), ("verdict", "verdict"), ("hours missed", "hours"),
           ("worst", "worst"), ("worst hour", "worst_hour")]


def targets_html(targets: list[dict[str, Any]], empty: str) -> str:
    if not targets:
        return h.note(empty)
    missed = [t["target"] for t in targets if t["met"] is False]
    summary = (f"Missed in some hour: {', '.join(missed)}." if missed
               else "Every target measured was met in every hour.")
    return h.paragraph(escape(summary)) + h.table([_row(t) for t in targets], COLUMNS)


def targets_md(targets: list[dict[str, Any]], empty: str) -> str:
    if not targets:
        return empty
    return md_table([{**_row(t), "worst": fmt(t["worst"])} for t in targets], COLUMNS)
