"""Planning which requested days the live Axiom source fetches, and fetching the plan, without Dagster,
against the loopback APL server (tests/helpers/loopback/axiom_server.py)."""

from __future__ import annotations

import pytest

from diplo_pipeline.lib.axiom import apl_sync
from diplo_pipeline.lib.axiom.apl_client import AplClient
from diplo_pipeline.lib.axiom.apl_errors import AxiomAuthError
from diplo_pipeline.lib.axiom.apl_partitions import DayPlan, fetch_planned_days, lateness, plan_apl_days
from tests.helpers.loopback.axiom_server import TOKEN, AxiomLoopback, bad_query, utc

NOW = utc("2025-12-23T12:00:00")
EXPORT_ONLY, DONE, DUE = "2025-12-19", "2025-12-20", "2025-12-21"  # before the range; fetched complete; not yet


def events(day: str, n: int) -> list[dict]:
    return [{"_time": f"{day}T{h:02d}:00:00Z", "event": "rollout_complete", "rollout_id": f"{day}-{h}"}
            for h in range(n)]


def client(server: AxiomLoopback, token: str = TOKEN) -> AplClient:
    return AplClient(server.url, token, "diplomacy", timeout_s=2, max_attempts=2, backoff_base_s=0.01)


@pytest.fixture
def range_of_two_days(data_env, monkeypatch):
    """The live source configured for DONE..DUE, with DONE already fetched complete."""
    monkeypatch.setenv("DIPLO_AXIOM_SINCE", DONE)
    monkeypatch.setenv("DIPLO_AXIOM_UNTIL", DUE)
    with AxiomLoopback(events(DONE, 3)) as axiom, client(axiom) as api:
        assert apl_sync.fetch_day(api, data_env, DONE, NOW).complete
    return data_env


def test_only_the_days_due_are_fetched_unless_a_refetch_asks_for_all(range_of_two_days):
    requested = [EXPORT_ONLY, DONE, DUE]
    assert plan_apl_days(range_of_two_days, requested, NOW) == DayPlan(fetch=[DUE], skip=[EXPORT_ONLY, DONE])
    assert plan_apl_days(range_of_two_days, requested, NOW, refetch=True) == DayPlan(fetch=requested, skip=[])


def test_a_day_axiom_fails_on_is_named_and_the_others_land(range_of_two_days):
    with AxiomLoopback(events(DONE, 3) + events(DUE, 4)) as axiom, client(axiom) as api:
        axiom.queue(bad_query("no such field"))  # the first day's first request
        done = fetch_planned_days(api, range_of_two_days, DayPlan(fetch=[DONE, DUE], skip=[EXPORT_ONLY]), NOW)
    assert list(done.failed) == [DONE] and "no such field" in done.failed[DONE]
    assert [(f.day, f.rows_new, f.complete) for f in done.fetched] == [(DUE, 4, True)]
    assert done.skipped == [EXPORT_ONLY]
    assert done.rows() == [{"day": DUE, "rows_fetched": 4, "rows_new": 4, "requests": 1, "complete": True,
                            "watermark": f"{DUE}T03:00:00Z"}]
    assert apl_sync.days_due(range_of_two_days, NOW) == []  # both days complete now


def test_a_refused_token_stops_every_day(data_env):
    with AxiomLoopback(events(DUE, 2)) as axiom, client(axiom, token="xaat-wrong") as api:
        with pytest.raises(AxiomAuthError):
            fetch_planned_days(api, data_env, DayPlan(fetch=[DONE, DUE]), NOW)
        assert len(axiom.requests) == 1  # the second day was not tried


def test_the_late_arrival_allowance_is_the_limit_in_thresholds_yml():
    from diplo_pipeline.lib.warehouse.thresholds import limit

    assert lateness().total_seconds() == limit("axiom_lateness_max_s") > 0
