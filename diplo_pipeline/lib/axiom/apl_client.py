"""Axiom's APL query API → event rows: stable paging, polite retries, and a token that never leaks.

Why not axiom-py: it has no `format=legacy` and does not retry 429 (source-formats.md §C.2). This is
httpx + tenacity against `POST {url}/v1/datasets/_apl?format=tabular|legacy` (§C.1).

Paging follows Axiom's documented stable pagination: `| sort by _time asc | limit N`, then the next page
starts at the last `_time` seen, as the raw string and inclusive, so rows sharing that timestamp come
back again and are dropped by `_rowId` (or a content hash). A page is only taken as the last one when it
is short, not partial, and Axiom did not say it applied its default limit instead of ours.

Plain Python, no Dagster: the Dagster resource builds an `AplClient` with the token from `dg.EnvVar`.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Self

import httpx
import tenacity

from diplo_pipeline.lib.axiom.export_files import _canonical, event_id, parse_time
from diplo_pipeline.lib.axiom.json_formats import api_rows

DEFAULT_URL = "https://api.axiom.co"
DEFAULT_DATASET = "diplomacy"
FORMATS = ("tabular", "legacy")
_DEFAULT_LIMIT = re.compile(r"default limit(?: of)? (\d+)", re.IGNORECASE)
AXIOM_DOCUMENTED_DEFAULT_LIMIT = 1000  # what Axiom returns when no limit applies (source-formats.md §C.1)


def live_settings_present() -> bool:
    """Live Axiom is off unless AXIOM_TOKEN is set (WAREHOUSE.md)."""
    return bool(os.environ.get("AXIOM_TOKEN"))


@dataclass(frozen=True)
class AxiomSettings:
    """The non-secret settings of live Axiom; the token is passed separately so it is never stored here."""

    url: str = DEFAULT_URL
    dataset: str = DEFAULT_DATASET
    org_id: str | None = None
    page_size: int = 10_000  # below the 50,000 the legacy endpoint documents; Axiom's own cap is unknown
    timeout_s: float = 30

    @classmethod
    def from_env(cls) -> AxiomSettings:
        return cls(
            url=os.environ.get("AXIOM_URL") or DEFAULT_URL,
            dataset=os.environ.get("AXIOM_DATASET") or DEFAULT_DATASET,
            org_id=os.environ.get("AXIOM_ORG_ID") or None,
        )


# --- errors -------------------------------------------------------------------------------------------


class AxiomError(Exception):
    """An Axiom query failed. Messages never hold the token or request headers."""

    def __init__(self, message: str, *, status: int | None = None, trace_id: str | None = None) -> None:
        super().__init__(message + (f" [X-Axiom-Trace-Id {trace_id}]" if trace_id else ""))
        self.status = status
        self.trace_id = trace_id


class AxiomAuthError(AxiomError):
    """401/403: retrying cannot help, the configuration must change."""


class AxiomQueryError(AxiomError):
    """4xx other than auth and rate limits: the query itself is wrong."""


class AxiomUnavailableError(AxiomError):
    """Still failing (429, 5xx, timeouts, connection errors) after every attempt."""


class AxiomPagingError(AxiomError):
    """More events share one timestamp than the largest page we allow ourselves to ask for."""


class _Retryable(Exception):
    """One failed attempt worth repeating; `wait_s` is what the server asked us to wait, if it said."""

    def __init__(self, description: str, *, status: int | None = None, trace_id: str | None = None,
                 wait_s: float | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.status = status
        self.trace_id = trace_id
        self.wait_s = wait_s


# --- times --------------------------------------------------------------------------------------------

_FRACTION = re.compile(r":\d{2}\.(\d+)")


def time_key(raw: str) -> tuple[datetime, int]:
    """Sort key of a raw RFC3339Nano string to the nanosecond (`parse_time` alone stops at microseconds)."""
    parsed = parse_time(raw)
    match = _FRACTION.search(raw)
    sub_micro = int((match[1] if match else "")[6:9].ljust(3, "0"))
    return parsed, sub_micro


def later_time(a: str | None, b: str | None) -> str | None:
    """The later of two raw `_time` strings (either may be None), returned exactly as given."""
    if a is None or b is None:
        return a if b is None else b
    return b if time_key(b) > time_key(a) else a


def format_time(moment: datetime) -> str:
    """A window bound for Axiom: RFC3339 in UTC with `Z`, microseconds only when there are some."""
    if moment.tzinfo is None:
        raise ValueError("window bounds must be timezone-aware datetimes")
    moment = moment.astimezone(UTC)
    fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def _bound(value: str | datetime) -> str:
    if isinstance(value, datetime):
        return format_time(value)
    parse_time(value)  # relative times ("now-1d") are valid for Axiom but cannot be paged by _time
    return value


def _midpoint(start: str, end: str) -> str | None:
    """A bound strictly inside (start, end), or None when the window is too narrow to split."""
    lo, hi = parse_time(start), parse_time(end)
    if hi - lo < timedelta(microseconds=4):
        return None
    half = (hi - lo) / 2
    return format_time(lo + timedelta(microseconds=max(2, half // timedelta(microseconds=1))))


# --- results ------------------------------------------------------------------------------------------


@dataclass
class FetchResult:
    """Every distinct row of a window, and whether Axiom's answer for the whole window can be trusted.

    `watermark` is the latest `_time` seen, as the raw string Axiom sent (nanoseconds and all), so the
    next fetch can start exactly there. When `complete` is false, `incomplete_from` is the start of the
    earliest sub-window Axiom kept answering partially for: rows before it are complete, rows after it
    may be missing, so a resumed fetch must start there rather than at the watermark.
    """

    rows: list[Any] = field(default_factory=list)  # row dicts; a malformed part of an answer is a ValueError
    complete: bool = True
    watermark: str | None = None
    requests: int = 0
    pages: int = 0
    duplicates_dropped: int = 0
    messages: list[str] = field(default_factory=list)
    incomplete_from: str | None = None


@dataclass
class _Page:
    rows: list[dict[str, Any]]
    partial: bool
    messages: list[str]
    default_limit: int | None  # set when Axiom says it applied its default limit rather than ours


class _Collector:
    """Accumulates pages of one fetch, dropping rows a previous page already delivered."""

    def __init__(self) -> None:
        self.result = FetchResult()
        self._seen: set[tuple[str, str]] = set()

    def add(self, page: _Page) -> None:
        self.result.pages += 1
        for message in page.messages:
            self.note(message)
        for row in page.rows:
            if not isinstance(row, dict):  # a malformed part of the answer: staging quarantines it
                self.result.rows.append(row)
                continue
            key = _row_key(row)
            if key in self._seen:
                self.result.duplicates_dropped += 1
                continue
            self._seen.add(key)
            self.result.rows.append(row)
            raw = row.get("_time")
            try:
                self.result.watermark = later_time(self.result.watermark, raw)
            except (ValueError, TypeError):
                pass  # a row with a bad _time is quarantined at staging; it cannot move the watermark

    def note(self, message: str) -> None:
        if message not in self.result.messages:
            self.result.messages.append(message)

    def incomplete(self, start: str, message: str) -> None:
        self.result.complete = False
        self.note(message)
        current = self.result.incomplete_from
        if current is None or time_key(start) < time_key(current):
            self.result.incomplete_from = start


def _row_key(row: dict[str, Any]) -> tuple[str, str]:
    """Axiom's `_rowId` where the answer has it (legacy, cursors); else the hash the warehouse dedups by."""
    row_id = row.get("_rowId")
    if isinstance(row_id, str) and row_id:
        return "rowId", row_id
    try:
        return "hash", event_id(_canonical(row))
    except (UnicodeEncodeError, RecursionError):  # not storable (staging quarantines it): still deduplicated
        return "repr", repr(row)


def _max_time(rows: list[dict[str, Any]]) -> str | None:
    latest = None
    for row in rows:
        if not isinstance(row, dict):
            continue
        try:
            latest = later_time(latest, row.get("_time"))
        except (ValueError, TypeError):
            continue
    return latest


def _default_limit(messages: list[str]) -> int | None:
    for message in messages:
        if "default limit" in message.lower():
            match = _DEFAULT_LIMIT.search(message)
            return int(match[1]) if match else AXIOM_DOCUMENTED_DEFAULT_LIMIT
    return None


def _error_text(response: httpx.Response) -> str:
    """Axiom's own words for an error: `message`, plus `detail` of a 400 when there is one."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:300]
    text = str(body.get("message") or body.get("code") or response.reason_phrase)
    detail = body.get("detail")
    if isinstance(detail, dict):
        where = f" at line {detail.get('line')}, column {detail.get('column')}" if "line" in detail else ""
        text += f" ({detail.get('message') or detail.get('errorType') or detail}{where})"
    elif detail:
        text += f" ({detail})"
    return text


def _server_wait(headers: httpx.Headers) -> float | None:
    """Seconds a 429 asks us to wait: `X-RateLimit-Reset` (epoch seconds) or `Retry-After`."""
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return float(reset) - time.time()
        except ValueError:
            pass
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            return float(retry_after)
        except ValueError:
            try:
                return (parsedate_to_datetime(retry_after) - datetime.now(UTC)).total_seconds()
            except (TypeError, ValueError):
                return None
    return None


# --- the client ---------------------------------------------------------------------------------------


class AplClient:
    """Queries one dataset through the APL endpoint. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        url: str,
        token: str,
        dataset: str,
        org_id: str | None = None,
        timeout_s: float = 30,
        max_attempts: int = 6,
        max_wait_s: float = 60,
        page_size: int = 10_000,
        *,
        result_format: str = "tabular",
        backoff_base_s: float = 0.2,
        min_wait_s: float = 0.05,
        max_split_depth: int = 3,
        max_limit_doublings: int = 4,
    ) -> None:
        if not token:
            raise AxiomAuthError("no Axiom token: set AXIOM_TOKEN to an API token with query permission")
        if result_format not in FORMATS:
            raise ValueError(f"result_format must be one of {FORMATS}, not {result_format!r}")
        if page_size < 1 or max_attempts < 1:
            raise ValueError("page_size and max_attempts must be at least 1")
        self.url = url.rstrip("/")
        self.dataset = dataset
        self.org_id = org_id
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.max_wait_s = max_wait_s
        self.page_size = page_size
        self.result_format = result_format
        self.backoff_base_s = backoff_base_s
        self.min_wait_s = min_wait_s
        self.max_split_depth = max_split_depth
        self.max_limit_doublings = max_limit_doublings
        self.__token = token  # name-mangled and never formatted into text: see __repr__ and _headers
        self._http = httpx.Client(timeout=timeout_s)
        self._backoff = tenacity.wait_exponential_jitter(
            multiplier=backoff_base_s, max=max_wait_s, jitter=backoff_base_s
        )

    def __repr__(self) -> str:
        org = f", org_id={self.org_id!r}" if self.org_id else ""
        return f"AplClient(url={self.url!r}, dataset={self.dataset!r}{org}, token=<hidden>)"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- one request -----------------------------------------------------------------------------------

    def apl(self, limit: int) -> str:
        name = self.dataset.replace("\\", "\\\\").replace("'", "\\'")
        return f"['{name}'] | sort by _time asc | limit {limit}"

    def _headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.__token}", "Accept": "application/json"}
        if self.org_id:
            headers["X-Axiom-Org-Id"] = self.org_id
        return headers

    def _attempt(self, body: dict[str, Any]) -> dict[str, Any]:
        """One POST. Raises _Retryable for what may pass, AxiomError subclasses for what will not."""
        response, failure = None, ""
        try:
            response = self._http.post(
                f"{self.url}/v1/datasets/_apl",
                params={"format": self.result_format},
                json=body,
                headers=self._headers(),
            )
        except httpx.TimeoutException as exc:
            failure = f"no answer within {self.timeout_s:g} s ({type(exc).__name__})"
        except httpx.TransportError as exc:
            failure = f"connection failed ({type(exc).__name__}: {exc})"
        if response is None:
            # Raised here, outside the except block, so no httpx exception (which holds the request and
            # its Authorization header) rides along as __context__.
            raise _Retryable(failure)
        status, trace = response.status_code, response.headers.get("X-Axiom-Trace-Id")
        if status == 429:
            raise _Retryable(f"HTTP 429 rate limited: {_error_text(response)}", status=status, trace_id=trace,
                             wait_s=_server_wait(response.headers))
        if status >= 500:
            raise _Retryable(f"HTTP {status}: {_error_text(response)}", status=status, trace_id=trace)
        if status in (401, 403):
            raise AxiomAuthError(
                f"Axiom refused the query (HTTP {status}: {_error_text(response)}). Set AXIOM_TOKEN to an "
                f"API token (xaat-...) that may query dataset {self.dataset!r}; a personal token (xapt-...) "
                "also needs AXIOM_ORG_ID.",
                status=status, trace_id=trace,
            )
        if status >= 400:
            raise AxiomQueryError(
                f"Axiom rejected the query on dataset {self.dataset!r} (HTTP {status}: {_error_text(response)}). "
                "Check AXIOM_DATASET and AXIOM_URL.",
                status=status, trace_id=trace,
            )
        try:
            answer = response.json()
        except ValueError:
            raise _Retryable(f"HTTP {status} but the answer is not JSON", status=status) from None
        if not isinstance(answer, dict) or not isinstance(answer.get("status"), dict):
            raise _Retryable(f"HTTP {status} but the answer has no `status` (not an AplResult)", status=status)
        return answer

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """What the server asked for (capped, floored), else exponential backoff with jitter."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.wait_s is not None:
            return min(self.max_wait_s, max(self.min_wait_s, exc.wait_s))
        return max(self.min_wait_s, self._backoff(state))

    def _post(self, body: dict[str, Any], collector: _Collector) -> dict[str, Any]:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Retryable),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    collector.result.requests += 1
                    return self._attempt(body)
        except _Retryable as exc:
            raise AxiomUnavailableError(
                f"Axiom query API at {self.url} (dataset {self.dataset!r}, window "
                f"[{body['startTime']}, {body['endTime']})) still failing after {self.max_attempts} attempts; "
                f"last error: {exc.description}. Axiom is down, slow or rate limiting us: run again later "
                "(fetching resumes from the stored watermark) or allow more attempts (max_attempts).",
                status=exc.status, trace_id=exc.trace_id,
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _page(self, start: str, end: str, limit: int, collector: _Collector) -> _Page:
        answer = self._post({"apl": self.apl(limit), "startTime": start, "endTime": end}, collector)
        status = answer["status"]
        messages = [
            str(m.get("msg") or m.get("code")) if isinstance(m, dict) else str(m)
            for m in status.get("messages") or []
        ]
        return _Page(list(api_rows(answer)), bool(status.get("isPartial")), messages, _default_limit(messages))

    # -- a window --------------------------------------------------------------------------------------

    def fetch(self, start: str | datetime, end: str | datetime) -> FetchResult:
        """Every event with start <= _time < end, each once. Strings are sent exactly as given."""
        collector = _Collector()
        self._fetch_window(_bound(start), _bound(end), 0, collector)
        return collector.result

    def _fetch_window(self, start: str, end: str, depth: int, collector: _Collector) -> None:
        cursor, limit, doublings = start, self.page_size, 0
        while True:
            page = self._page(cursor, end, limit, collector)
            collector.add(page)  # even a partial page's rows are real events; dedup makes keeping them safe
            if page.partial:
                self._split(cursor, end, depth, collector)
                return
            latest = _max_time(page.rows)
            if page.default_limit:
                # Axiom says it applied a limit of its own, not ours: this page says nothing about what
                # comes after it, however short it is. Go on from its last row; without progress, stop
                # and leave the window incomplete rather than call it done.
                if latest is None or time_key(latest) <= time_key(cursor):
                    collector.incomplete(cursor, f"Axiom applied its default limit for [{cursor}, {end}) "
                                                 "and the page did not get past its start")
                    return
                cursor, limit, doublings = latest, self.page_size, 0
                continue
            if len(page.rows) < limit:
                return  # short, complete, and limited by our own limit: nothing after it
            if latest is None:
                raise AxiomQueryError(f"a full page of {len(page.rows)} rows without a readable _time")
            if time_key(latest) > time_key(cursor):
                cursor, limit, doublings = latest, self.page_size, 0
                continue
            # The whole page sits on the cursor's instant: more events share it than one page holds, and
            # moving on would loop forever. Ask again for a bigger page, a bounded number of times.
            doublings += 1
            if doublings > self.max_limit_doublings:
                raise AxiomPagingError(
                    f"more than {limit} events share _time {latest} in dataset {self.dataset!r}; "
                    f"stable pagination by _time cannot get past them (largest page tried: {limit}). "
                    "Raise page_size or max_limit_doublings."
                )
            limit *= 2

    def _split(self, start: str, end: str, depth: int, collector: _Collector) -> None:
        """Axiom gave a partial answer (it stopped early): ask again for each half of what is left."""
        middle = _midpoint(start, end)
        if middle is None or depth >= self.max_split_depth:
            collector.incomplete(
                start,
                f"Axiom still answered partially for [{start}, {end}) after {depth} window splits; "
                "the window is incomplete",
            )
            return
        collector.note(f"partial answer for [{start}, {end}): asking for each half")
        self._fetch_window(start, middle, depth + 1, collector)
        self._fetch_window(middle, end, depth + 1, collector)
