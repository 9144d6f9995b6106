"""Which requested day partitions the live Axiom source fetches, and fetching them day by day.

A Dagster run covers a contiguous range of day partitions (defs/partitions.py), which may include days
that only export files fill: only the days the live source is due to fetch (apl_sync.days_due) are
fetched, unless a refetch asks for every requested day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from diplo_pipeline.lib.axiom import apl_sync
from diplo_pipeline.lib.axiom.apl_client import AplClient
from diplo_pipeline.lib.axiom.apl_errors import AxiomAuthError, AxiomError
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.warehouse.thresholds import limit


def lateness() -> timedelta:
    """How late an event may reach Axiom after its `_time`. Each fetch re-reads that long before its
    watermark (duplicates are dropped), and a day counts as complete only once it has been over that long:
    together no event within the allowance is missed."""
    return timedelta(seconds=limit("axiom_lateness_max_s"))


@dataclass(frozen=True)
class DayPlan:
    """The requested days, in request order: those to fetch, and those skipped (complete, or not due)."""

    fetch: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)


def plan_apl_days(paths: DataPaths, partition_keys: list[str], now: datetime, refetch: bool = False) -> DayPlan:
    due = set(apl_sync.days_due(paths, now))
    plan = DayPlan()
    for day in partition_keys:
        (plan.fetch if day in due or refetch else plan.skip).append(day)
    return plan


@dataclass
class DaysFetched:
    fetched: list[apl_sync.DayFetch] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # day → why

    def rows(self) -> list[dict]:
        """One row per fetched day, for a preview table."""
        return [{"day": f.day, "rows_fetched": f.rows_fetched, "rows_new": f.rows_new, "requests": f.requests,
                 "complete": f.complete, "watermark": f.watermark or ""} for f in self.fetched]


def fetch_planned_days(client: AplClient, paths: DataPaths, plan: DayPlan, now: datetime) -> DaysFetched:
    """Fetch and stage each planned day. A day Axiom fails on is reported in `failed` (it stays due, so the
    next fetch tries again) and the others still land; a refused token stops everything, since no other
    day would get through either."""
    allowance = lateness()
    done = DaysFetched(skipped=list(plan.skip))
    for day in plan.fetch:
        try:
            done.fetched.append(apl_sync.fetch_day(client, paths, day, now, lookback=allowance, settle=allowance))
        except AxiomAuthError:
            raise
        except AxiomError as exc:
            done.failed[day] = str(exc)
    return done
