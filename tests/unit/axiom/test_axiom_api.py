"""Contract tests of the Axiom APL client and API staging, against a loopback server.

The server in tests/loopback/axiom_server.py stands in for Axiom's cloud query API (this machine cannot
reach it): a real HTTP server on 127.0.0.1 answering the documented `AplResult` shapes, evaluating the
window, sort and limit the client sends, and injecting faults on request. Every test plants its truth
(the events the server holds) and checks the client gets exactly that, through real HTTP.
"""

from __future__ import annotations

import json
import time
from datetime import date

import duckdb
import httpx
import pytest

from diplo_pipeline.lib.axiom import apl_sync, day_partitions, pending_days, staging
from diplo_pipeline.lib.axiom.apl_client import AplClient
from diplo_pipeline.lib.axiom.apl_errors import AxiomAuthError, AxiomPagingError, AxiomQueryError, AxiomUnavailableError
from diplo_pipeline.lib.axiom.apl_settings import AxiomSettings, live_settings_present
from tests.helpers.loopback.axiom_server import (
    TOKEN,
    AxiomLoopback,
    Reply,
    bad_query,
    default_limit,
    partial,
    rate_limited,
    retry_after,
    server_error,
    slow,
    utc,
)

DAY = "2025-12-21"
DAY_START, DAY_END = "2025-12-21T00:00:00Z", "2025-12-22T00:00:00Z"
# Axiom's _time has a variable-length fraction (source-formats.md §C.3): every shape occurs here.
FRACTIONS = ["", ".5", ".25", ".123", ".1234567", ".123456789", ".68112905"]


def events_of(n: int, day: str = DAY, first_s: int = 0, span_s: int = 86_400, offset: int = 0) -> list[dict]:
    """n distinct events spread over [first_s, first_s + span_s) seconds of the day."""
    out = []
    for i in range(n):
        second = first_s + i * span_s // n
        stamp = f"{day}T{second // 3600:02d}:{second % 3600 // 60:02d}:{second % 60:02d}"
        out.append({"_time": stamp + FRACTIONS[i % len(FRACTIONS)] + "Z", "event": "rollout_complete",
                    "rollout_id": f"game-{offset + i}", "seq": offset + i, "service": "unknown"})
    return out


def at(stamp: str, seq: int, **extra) -> dict:
    return {"_time": stamp, "event": "rollout_complete", "seq": seq, "service": "unknown", **extra}


def client(server: AxiomLoopback, **overrides) -> AplClient:
    """Small timeouts and backoff bases so faults cost milliseconds, not the production seconds."""
    options = {"timeout_s": 2, "max_attempts": 4, "max_wait_s": 5, "page_size": 1000, "backoff_base_s": 0.01}
    options.update(overrides)
    token = options.pop("token", TOKEN)
    return AplClient(server.url, token, "diplomacy", **options)


def seqs(rows: list[dict]) -> list[int]:
    return sorted(row["seq"] for row in rows)


# --- paging ------------------------------------------------------------------------------------------


def test_first_fetch_of_a_day_pages_through_every_event_once():
    planted = events_of(2503)
    with AxiomLoopback(planted) as axiom, client(axiom) as api:
        result = api.fetch(DAY_START, DAY_END)
        requests = list(axiom.requests)

    assert seqs(result.rows) == list(range(2503))
    assert result.complete and result.pages == len(requests) == result.requests == 3
    assert result.duplicates_dropped == 2  # each next page re-reads the boundary event
    for request in requests:
        assert request.path == "/v1/datasets/_apl" and request.query == {"format": "tabular"}
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert "x-axiom-org-id" not in request.headers
        assert request.body["apl"] == "['diplomacy'] | sort by _time asc | limit 1000"
        assert request.body["endTime"] == DAY_END
    # The next page starts at the last _time seen, as the raw string, inclusive (no +1 ns).
    assert [r.body["startTime"] for r in requests] == [DAY_START, planted[999]["_time"], planted[1998]["_time"]]
    # Tabular answers carry _sysTime; rows come back as flat dicts with nulls dropped.
    assert result.rows[0] == {**planted[0], "_sysTime": planted[0]["_time"]}


def test_equal_timestamps_straddling_a_page_edge_are_neither_lost_nor_duplicated():
    shared = "2025-12-21T06:00:00.5Z"
    planted = [at(f"2025-12-21T05:00:0{i}Z", i) for i in range(6)]
    planted += [at(shared, 6 + i) for i in range(5)]  # page 1 holds 2 of them, page 2 the other 3 again
    planted += [at(f"2025-12-21T07:00:0{i}Z", 11 + i) for i in range(4)]
    with AxiomLoopback(planted) as axiom, client(axiom, page_size=8) as api:
        result = api.fetch(DAY_START, DAY_END)
        starts = [r.body["startTime"] for r in axiom.requests]

    assert seqs(result.rows) == list(range(15))
    assert starts[1] == shared and result.duplicates_dropped >= 2 and result.complete


def test_more_equal_timestamps_than_a_page_doubles_the_limit_instead_of_looping():
    shared = "2025-12-21T06:00:00Z"
    planted = [at(shared, i) for i in range(25)] + [at("2025-12-21T06:00:01Z", 25 + i) for i in range(3)]
    with AxiomLoopback(planted) as axiom, client(axiom, page_size=10) as api:
        result = api.fetch(DAY_START, DAY_END)
        apls = [r.body["apl"] for r in axiom.requests]

    assert seqs(result.rows) == list(range(28)) and result.complete
    assert apls[-1].endswith("limit 40") and len(apls) <= 6

    with AxiomLoopback(planted) as axiom, client(axiom, page_size=10, max_limit_doublings=1) as api:
        with pytest.raises(AxiomPagingError, match="share _time 2025-12-21T06:00:00Z"):
            api.fetch(DAY_START, DAY_END)
        assert len(axiom.requests) == 3  # then it stopped: no endless loop


def test_watermark_is_the_raw_string_of_the_latest_event_to_the_nanosecond():
    planted = [at("2025-12-21T07:59:59Z", 0), at("2025-12-21T08:00:00.1234567Z", 1),
               at("2025-12-21T08:00:00.123456789Z", 2), at("2025-12-21T08:00:00.123456Z", 3)]
    with AxiomLoopback(planted) as axiom, client(axiom) as api:
        result = api.fetch(DAY_START, DAY_END)
    # All three share one microsecond; only the nanoseconds tell which is latest.
    assert result.watermark == "2025-12-21T08:00:00.123456789Z"


def test_legacy_format_rows_are_data_plus_time_fields_and_dedup_by_row_id():
    shared = "2025-12-21T06:00:00Z"
    planted = [at(shared, i) for i in range(4)] + [at("2025-12-21T07:00:00Z", 4)]
    with AxiomLoopback(planted) as axiom, client(axiom, page_size=3, result_format="legacy") as api:
        result = api.fetch(DAY_START, DAY_END)
        assert {r.query["format"] for r in axiom.requests} == {"legacy"}
    assert seqs(result.rows) == [0, 1, 2, 3, 4] and result.duplicates_dropped > 0
    row = result.rows[0]
    assert set(row) == {"_time", "_sysTime", "_rowId", "event", "seq", "service"}
    assert row["_rowId"].startswith("loop")


def test_default_limit_message_is_not_taken_for_the_last_page():
    planted = events_of(2503)
    with AxiomLoopback(planted) as axiom, client(axiom, page_size=10_000) as api:
        axiom.queue(default_limit())  # Axiom applied its 1,000-row default instead of our limit
        result = api.fetch(DAY_START, DAY_END)
        starts = [r.body["startTime"] for r in axiom.requests]
    assert seqs(result.rows) == list(range(2503)) and result.complete
    assert starts == [DAY_START, planted[999]["_time"]]
    assert any("default limit of 1000" in m for m in result.messages)


def test_a_short_page_under_axioms_default_limit_is_never_the_end():
    """Axiom applied a limit of its own and returned fewer rows than its message names (600, not 1,000):
    that still proves nothing about what comes after, so paging goes on from the page's last row."""
    planted = events_of(1500)
    with AxiomLoopback(planted) as axiom, client(axiom, page_size=10_000) as api:
        axiom.queue(Reply(ignore_limit=True))
        axiom.default_limit = 600  # this server's default is smaller than the documented 1,000
        result = api.fetch(DAY_START, DAY_END)
    assert seqs(result.rows) == list(range(1500)) and result.complete


def test_a_page_under_the_default_limit_that_cannot_move_on_leaves_the_window_incomplete():
    planted = [at("2025-12-21T08:00:00Z", i) for i in range(5)]
    with AxiomLoopback(planted) as axiom, client(axiom) as api:
        axiom.queue(Reply(ignore_limit=True), Reply(ignore_limit=True))
        result = api.fetch(DAY_START, DAY_END)
    assert not result.complete and seqs(result.rows) == list(range(5))


# --- partial answers ---------------------------------------------------------------------------------


def test_partial_answer_is_split_into_halves_and_complete_once_axiom_stops_being_partial():
    planted = events_of(200)
    with AxiomLoopback(planted) as axiom, client(axiom) as api:
        axiom.queue(partial(keep=0.5))
        result = api.fetch(DAY_START, DAY_END)
        windows = [(r.body["startTime"], r.body["endTime"]) for r in axiom.requests]
    assert windows == [(DAY_START, DAY_END), (DAY_START, "2025-12-21T12:00:00Z"), ("2025-12-21T12:00:00Z", DAY_END)]
    assert seqs(result.rows) == list(range(200)) and result.complete
    assert result.duplicates_dropped == 100  # the partial page's rows were kept, then seen again

    with AxiomLoopback(planted) as axiom, client(axiom, max_split_depth=3) as api:
        axiom.partial_wider_than_s = 3 * 3600  # only windows of 3 h or less are answered in full
        result = api.fetch(DAY_START, DAY_END)
    assert seqs(result.rows) == list(range(200)) and result.complete
    assert result.requests == 1 + 2 + 4 + 8


def test_window_that_stays_partial_is_reported_incomplete_and_not_marked_done(data_env):
    with AxiomLoopback(events_of(200)) as axiom, client(axiom, max_split_depth=2) as api:
        axiom.partial_wider_than_s = 0  # partial whatever we ask
        result = api.fetch(DAY_START, DAY_END)
        assert not result.complete and result.incomplete_from == DAY_START
        assert 0 < len(result.rows) < 200
        assert any("incomplete" in m for m in result.messages)

        done = apl_sync.fetch_day(api, data_env, DAY, utc("2025-12-22T01:00:00"))
    assert not done.complete
    state = apl_sync.api_day_state(data_env, "diplomacy", DAY)
    assert state["complete"] is False and state["resume_from"] == DAY_START  # next time: from the hole
    assert DAY in apl_sync.days_to_fetch(data_env, "diplomacy", date(2025, 12, 21), date(2025, 12, 22))


# --- retries and errors ------------------------------------------------------------------------------


def test_429_waits_until_the_rate_limit_reset_then_succeeds():
    with AxiomLoopback(events_of(10)) as axiom, client(axiom) as api:
        axiom.queue(rate_limited(reset_in_s=1))
        started = time.monotonic()
        result = api.fetch(DAY_START, DAY_END)
        elapsed = time.monotonic() - started
        first, second = axiom.requests
    assert seqs(result.rows) == list(range(10)) and result.requests == 2
    # X-RateLimit-Reset is epoch seconds: the retry must not come before it, nor much after it.
    assert second.at >= int(first.at) + 1 - 0.01
    assert elapsed < 2.5


def test_429_with_retry_after_waits_that_long():
    with AxiomLoopback(events_of(10)) as axiom, client(axiom) as api:
        axiom.queue(retry_after(0.3))
        api.fetch(DAY_START, DAY_END)
        first, second = axiom.requests
    assert 0.29 <= second.at - first.at < 1.5


def test_500_then_success_and_timeout_then_success():
    with AxiomLoopback(events_of(10)) as axiom, client(axiom, timeout_s=0.3) as api:
        axiom.queue(server_error(500))
        assert len(api.fetch(DAY_START, DAY_END).rows) == 10
        assert len(axiom.requests) == 2

        axiom.queue(slow(1.0))  # longer than the client's 0.3 s timeout
        started = time.monotonic()
        result = api.fetch(DAY_START, DAY_END)
        assert len(result.rows) == 10 and result.requests == 2
        assert time.monotonic() - started < 1.0
        assert len(axiom.requests) == 4


def test_persistent_500_gives_a_clear_error_after_max_attempts():
    with AxiomLoopback(events_of(10)) as axiom, client(axiom, max_attempts=4) as api:
        axiom.queue(*[server_error(503)] * 4)
        with pytest.raises(AxiomUnavailableError) as caught:
            api.fetch(DAY_START, DAY_END)
        assert len(axiom.requests) == 4
    message = str(caught.value)
    assert "after 4 attempts" in message and "HTTP 503" in message and "X-Axiom-Trace-Id" in message
    assert "run again later" in message and TOKEN not in message


def exception_chain(exc: BaseException | None) -> list[BaseException]:
    chain = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def test_persistent_timeouts_give_a_clear_error_that_carries_no_request_or_token():
    with AxiomLoopback(events_of(10)) as axiom, client(axiom, timeout_s=0.1, max_attempts=2) as api:
        axiom.queue(slow(0.4), slow(0.4))
        with pytest.raises(AxiomUnavailableError, match="after 2 attempts.*no answer within 0.1 s") as caught:
            api.fetch(DAY_START, DAY_END)
    chain = exception_chain(caught.value)
    # httpx exceptions hold the request, Authorization header included: none may ride along.
    assert not any(isinstance(e, httpx.HTTPError) for e in chain)
    assert all(TOKEN not in repr(e) and TOKEN not in str(e) for e in chain)


def test_401_is_not_retried_and_names_the_env_var_without_the_token():
    wrong = "xaat-wrong-secret-9999"
    with AxiomLoopback(events_of(10)) as axiom, client(axiom, token=wrong) as api:
        with pytest.raises(AxiomAuthError) as caught:
            api.fetch(DAY_START, DAY_END)
        assert len(axiom.requests) == 1
        assert wrong not in repr(api) and "<hidden>" in repr(api)
    message = str(caught.value)
    assert "AXIOM_TOKEN" in message and "AXIOM_ORG_ID" in message and "401" in message
    assert "invalid authentication credentials" in message and "X-Axiom-Trace-Id" in message
    assert wrong not in message and wrong not in repr(caught.value) and caught.value.status == 401


def test_org_id_header_is_sent_when_configured():
    with AxiomLoopback(events_of(5), org_id="org-42") as axiom:
        with client(axiom) as api, pytest.raises(AxiomAuthError, match="403"):
            api.fetch(DAY_START, DAY_END)
        with client(axiom, org_id="org-42") as api:
            assert len(api.fetch(DAY_START, DAY_END).rows) == 5
        assert axiom.requests[-1].headers["x-axiom-org-id"] == "org-42"


def test_400_raises_a_query_error_with_axioms_detail():
    with AxiomLoopback(events_of(5)) as axiom, client(axiom) as api:
        axiom.queue(bad_query("unknown operator 'frobnicate'"))
        with pytest.raises(AxiomQueryError, match="frobnicate.*line 1, column 3") as caught:
            api.fetch(DAY_START, DAY_END)
        assert len(axiom.requests) == 1 and caught.value.status == 400


def test_loopback_answers_with_every_required_field_and_the_default_limit():
    """The stand-in itself: no limit in the APL gives Axiom's 1,000 rows and its message."""
    with AxiomLoopback(events_of(1500)) as axiom:
        answer = httpx.post(f"{axiom.url}/v1/datasets/_apl", params={"format": "tabular"},
                            headers={"Authorization": f"Bearer {TOKEN}"},
                            json={"apl": "['diplomacy']", "startTime": DAY_START, "endTime": DAY_END}).json()
    status = answer["status"]
    assert {"elapsedTime", "blocksExamined", "rowsExamined", "rowsMatched", "numGroups", "isPartial",
            "cacheStatus", "minBlockTime", "maxBlockTime"} <= set(status)
    assert {"datasetNames", "format", "tables"} <= set(answer)
    assert len(answer["tables"][0]["columns"][0]) == 1000
    assert status["messages"][0]["msg"] == "A default limit of 1000 was applied"


def test_settings_come_from_the_environment(monkeypatch):
    for name in ("AXIOM_TOKEN", "AXIOM_URL", "AXIOM_DATASET", "AXIOM_ORG_ID"):
        monkeypatch.delenv(name, raising=False)
    assert not live_settings_present()
    assert AxiomSettings.from_env() == AxiomSettings("https://api.axiom.co", "diplomacy", None)
    monkeypatch.setenv("AXIOM_TOKEN", "xaat-x")
    monkeypatch.setenv("AXIOM_DATASET", "other")
    monkeypatch.setenv("AXIOM_ORG_ID", "org-1")
    assert live_settings_present()
    assert AxiomSettings.from_env() == AxiomSettings("https://api.axiom.co", "other", "org-1")


# --- day partitions from the API ---------------------------------------------------------------------


def day_rows(paths, day: str = DAY) -> list[dict]:
    return duckdb.sql(f"select * from '{day_partitions.events_dir(paths)}/{day}.parquet'").to_arrow_table().to_pylist()


def build_pending(paths) -> dict[str, int]:
    days = pending_days.pending_days(paths)
    counts = day_partitions.build_days(paths, days)
    pending_days.mark_days_built(paths, set(days))
    return counts


def test_todays_partition_fetched_twice_appends_only_new_events(data_env):
    morning = events_of(300, first_s=0, span_s=36_000)  # 00:00 to 10:00
    later = events_of(7, first_s=38_400, span_s=1_200, offset=300)  # 10:40 to 11:00
    with AxiomLoopback(morning) as axiom, client(axiom) as api:
        first = apl_sync.fetch_day(api, data_env, DAY, utc("2025-12-21T10:30:00"))
        assert axiom.requests[-1].body["endTime"] == "2025-12-21T10:30:00Z"
        axiom.add(later)
        second = apl_sync.fetch_day(api, data_env, DAY, utc("2025-12-21T11:30:00"))
        assert axiom.requests[-1].body["startTime"] == first.watermark == morning[-1]["_time"]

    assert (first.rows_new, first.complete) == (300, False)
    assert (second.rows_fetched, second.rows_new, second.complete) == (8, 7, False)  # 1 overlap at the edge
    assert second.watermark == later[-1]["_time"]
    state = apl_sync.api_day_state(data_env, "diplomacy", DAY)
    assert state["rows"] == 307 and state["complete"] is False and state["watermark"] == later[-1]["_time"]
    assert build_pending(data_env) == {DAY: 307}
    assert apl_sync.days_to_fetch(data_env, "diplomacy", date(2025, 12, 21), date(2025, 12, 21)) == [DAY]


def test_past_day_fetched_once_is_complete_and_no_longer_listed(data_env):
    with AxiomLoopback(events_of(50) + events_of(3, day="2025-12-22")) as axiom, client(axiom) as api:
        done = apl_sync.fetch_day(api, data_env, DAY, utc("2025-12-22T01:00:00"))
        assert [(r.body["startTime"], r.body["endTime"]) for r in axiom.requests] == [(DAY_START, DAY_END)]
    assert done.complete and done.rows_fetched == 50
    assert apl_sync.days_to_fetch(data_env, "diplomacy", date(2025, 12, 20), date(2025, 12, 22)) == [
        "2025-12-20", "2025-12-22"]


def test_days_due_follows_the_configured_range(data_env, monkeypatch):
    monkeypatch.delenv("DIPLO_AXIOM_UNTIL", raising=False)
    monkeypatch.delenv("DIPLO_AXIOM_SINCE", raising=False)
    monkeypatch.delenv("AXIOM_DATASET", raising=False)
    now = utc("2025-12-22T01:00:00")
    assert apl_sync.days_due(data_env, now) == [f"2025-12-{d}" for d in range(16, 23)]  # last week
    monkeypatch.setenv("DIPLO_AXIOM_SINCE", "2025-12-20")
    monkeypatch.setenv("DIPLO_AXIOM_UNTIL", DAY)  # a range that ended: nothing due once all complete
    with AxiomLoopback(events_of(5)) as axiom, client(axiom) as api:
        for day in apl_sync.days_due(data_env, now):
            apl_sync.fetch_day(api, data_env, day, now)
    assert apl_sync.days_due(data_env, now) == []
    monkeypatch.setenv("DIPLO_AXIOM_UNTIL", "2025-12-31")  # a range running into the future: today stays due
    assert apl_sync.days_due(data_env, now) == ["2025-12-22"]


def test_late_events_within_the_allowance_are_read_before_the_day_completes(data_env):
    """With the allowance the Dagster asset uses (lib/axiom/apl_partitions.py), an event stamped 23:52 that
    reaches Axiom at 00:06 (14 minutes late), after a fetch at 00:05 moved the watermark past it, is still
    read, and the day is complete only once the allowance has passed."""
    from diplo_pipeline.lib.axiom.apl_partitions import lateness

    allowance = lateness()

    with AxiomLoopback([at("2025-12-21T23:59:59.5Z", 0)]) as axiom, client(axiom) as api:
        first = apl_sync.fetch_day(api, data_env, DAY, utc("2025-12-22T00:05:00"),
                                       lookback=allowance, settle=allowance)
        axiom.add([at("2025-12-21T23:52:00Z", 1)])  # arrives late
        final = apl_sync.fetch_day(api, data_env, DAY, utc("2025-12-22T00:20:00"),
                                       lookback=allowance, settle=allowance)
    assert not first.complete and final.complete
    assert final.rows_new == 1


def test_today_resumes_after_midnight_and_only_then_completes(data_env):
    with AxiomLoopback(events_of(40, first_s=0, span_s=40_000)) as axiom, client(axiom) as api:
        today = apl_sync.fetch_day(api, data_env, DAY, utc("2025-12-21T12:00:00"))
        axiom.add(events_of(5, first_s=80_000, span_s=5_000, offset=40))
        after = apl_sync.fetch_day(api, data_env, DAY, utc("2025-12-22T00:10:00"))
        assert axiom.requests[-1].body == {"apl": "['diplomacy'] | sort by _time asc | limit 1000",
                                           "startTime": today.watermark, "endTime": DAY_END}
    assert not today.complete and after.complete and after.rows_new == 5


def test_api_rows_and_export_files_share_the_day_partition_deduplicated(data_env):
    planted = events_of(50)
    export_only = at("2025-12-21T23:59:59.999Z", 999)  # e.g. trimmed from Axiom since it was exported
    export = data_env.axiom_dirs[0] / "axiom-export.ndjson"
    export.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in [*planted[:30], export_only]))
    staged = staging.stage_exports(data_env)
    pending_days.mark_days_pending(data_env, staged.affected_days)
    assert build_pending(data_env) == {DAY: 31}

    with AxiomLoopback(planted) as axiom, client(axiom) as api:
        done = apl_sync.fetch_day(api, data_env, DAY, utc("2025-12-22T01:00:00"))
    assert done.rows_new == 50  # new to the API staging, though 30 are also in the export
    assert build_pending(data_env) == {DAY: 51}
    rows = day_rows(data_env)
    seqs_staged = sorted(json.loads(r["payload"])["seq"] for r in rows)
    assert len({r["event_id"] for r in rows}) == 51 and seqs_staged == [*range(50), 999]
    assert {r["source_file"] for r in rows} == {str(export.resolve()), f"axiom-api://diplomacy/{DAY}"}

    # Export staging leaves API days alone: nothing changed, nothing removed.
    assert not staging.exports_changed(data_env)
    again = staging.stage_exports(data_env)
    assert again.files_parsed == [] and again.files_removed == []
    assert staging.staged_days(data_env) == {DAY}
    # Removing the export removes only what it alone held.
    export.unlink()
    assert staging.exports_changed(data_env)
    gone = staging.stage_exports(data_env)
    assert gone.files_removed == [str(export.resolve())]
    assert day_partitions.build_days(data_env, [DAY]) == {DAY: 50}
    assert day_partitions.remove_stale_days(data_env) == []


def test_malformed_api_row_is_quarantined_and_the_good_rows_go_in(data_env):
    bad = {"_time": "2025-12-21T12:00:00.5Z", "rollout_id": "game-x", "service": "unknown"}  # no event
    with AxiomLoopback([*events_of(20), bad]) as axiom, client(axiom) as api:
        apl_sync.fetch_day(api, data_env, DAY, utc("2025-12-22T01:00:00"))
        apl_sync.fetch_day(api, data_env, DAY, utc("2025-12-22T02:00:00"))  # again: quarantined once
    assert build_pending(data_env) == {DAY: 20}
    path = data_env.quarantine / "axiom" / f"api-diplomacy-{DAY}.ndjson"
    [item] = [json.loads(line) for line in path.read_text().splitlines()]
    assert item["file"] == f"axiom-api://diplomacy/{DAY}" and "missing field event" in item["reason"]
    assert json.loads(item["raw"])["rollout_id"] == "game-x" and item["line"] >= 1
    index = json.loads((data_env.state / "axiom_files.json").read_text())
    assert index[f"axiom-api://diplomacy/{DAY}"] == {
        "source": "api", "key": f"api-diplomacy-{DAY}", "days": [DAY], "rows": 20, "quarantined": 1}


def test_fetching_and_staging_a_complete_day_twice_gives_identical_parquet(data_env):
    with AxiomLoopback(events_of(500)) as axiom, client(axiom, page_size=200) as api:
        apl_sync.fetch_day(api, data_env, DAY, utc("2025-12-22T01:00:00"))
        build_pending(data_env)
        day_file = day_partitions.events_dir(data_env) / f"{DAY}.parquet"
        staged_file = staging.staged_dir(data_env) / f"api-diplomacy-{DAY}.parquet"
        first, first_staged = day_file.read_bytes(), staged_file.read_bytes()

        asked = len(axiom.requests)
        again = apl_sync.fetch_day(api, data_env, DAY, utc("2025-12-22T01:00:00"))
        assert axiom.requests[asked].body["startTime"] == DAY_START  # an explicit re-fetch reads the whole day
        build_pending(data_env)
    assert again.rows_fetched == 500 and again.rows_new == 0 and again.complete
    assert day_file.read_bytes() == first and staged_file.read_bytes() == first_staged


def test_a_day_staged_again_while_it_is_being_rebuilt_stays_pending(data_env):
    pending_days.mark_days_pending(data_env, {DAY})
    snapshot = pending_days.pending_snapshot(data_env)  # the rebuild of DAY starts
    pending_days.mark_days_pending(data_env, {DAY})  # a fetch stages new rows meanwhile
    pending_days.mark_days_built(data_env, {DAY}, snapshot)
    assert pending_days.pending_days(data_env) == [DAY]
    pending_days.mark_days_built(data_env, {DAY}, pending_days.pending_snapshot(data_env))
    assert pending_days.pending_days(data_env) == []
