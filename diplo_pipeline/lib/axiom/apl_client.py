"""Axiom's APL query API → event rows: one HTTP client with polite retries and a token that never leaks.

Why not axiom-py: it has no `format=legacy` and does not retry 429 (source-formats.md §C.2). This is
httpx + tenacity against `POST {url}/v1/datasets/_apl?format=tabular|legacy` (§C.1). How a window is paged
(by `_time`, each row once) is apl_paging.py; the settings and the errors are apl_settings.py and
apl_errors.py.

Plain Python, no Dagster: the Dagster resource builds an `AplClient` with the token it resolves at run time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Self

import httpx
import tenacity

from diplo_pipeline.lib.axiom.apl_errors import (
    AxiomAuthError,
    AxiomPagingError,
    AxiomQueryError,
    AxiomUnavailableError,
    Retryable,
)
from diplo_pipeline.lib.axiom.apl_paging import (
    Collector,
    FetchResult,
    Page,
    default_limit_applied,
    max_time,
    midpoint,
    time_key,
    window_bound,
)
from diplo_pipeline.lib.axiom.json_formats import api_rows

FORMATS = ("tabular", "legacy")


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
        """One POST. Raises Retryable for what may pass, AxiomError subclasses for what will not."""
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
            raise Retryable(failure)
        status, trace = response.status_code, response.headers.get("X-Axiom-Trace-Id")
        if status == 429:
            raise Retryable(f"HTTP 429 rate limited: {_error_text(response)}", status=status, trace_id=trace,
                             wait_s=_server_wait(response.headers))
        if status >= 500:
            raise Retryable(f"HTTP {status}: {_error_text(response)}", status=status, trace_id=trace)
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
            raise Retryable(f"HTTP {status} but the answer is not JSON", status=status) from None
        if not isinstance(answer, dict) or not isinstance(answer.get("status"), dict):
            raise Retryable(f"HTTP {status} but the answer has no `status` (not an AplResult)", status=status)
        return answer

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """What the server asked for (capped, floored), else exponential backoff with jitter."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Retryable) and exc.wait_s is not None:
            return min(self.max_wait_s, max(self.min_wait_s, exc.wait_s))
        return max(self.min_wait_s, self._backoff(state))

    def _post(self, body: dict[str, Any], collector: Collector) -> dict[str, Any]:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(Retryable),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    collector.result.requests += 1
                    return self._attempt(body)
        except Retryable as exc:
            raise AxiomUnavailableError(
                f"Axiom query API at {self.url} (dataset {self.dataset!r}, window "
                f"[{body['startTime']}, {body['endTime']})) still failing after {self.max_attempts} attempts; "
                f"last error: {exc.description}. Axiom is down, slow or rate limiting us: run again later "
                "(fetching resumes from the stored watermark) or allow more attempts (max_attempts).",
                status=exc.status, trace_id=exc.trace_id,
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _page(self, start: str, end: str, limit: int, collector: Collector) -> Page:
        answer = self._post({"apl": self.apl(limit), "startTime": start, "endTime": end}, collector)
        status = answer["status"]
        messages = [
            str(m.get("msg") or m.get("code")) if isinstance(m, dict) else str(m)
            for m in status.get("messages") or []
        ]
        return Page(list(api_rows(answer)), bool(status.get("isPartial")), messages, default_limit_applied(messages))

    # -- a window --------------------------------------------------------------------------------------

    def fetch(self, start: str | datetime, end: str | datetime) -> FetchResult:
        """Every event with start <= _time < end, each once. Strings are sent exactly as given."""
        collector = Collector()
        self._fetch_window(window_bound(start), window_bound(end), 0, collector)
        return collector.result

    def _fetch_window(self, start: str, end: str, depth: int, collector: Collector) -> None:
        cursor, limit, doublings = start, self.page_size, 0
        while True:
            page = self._page(cursor, end, limit, collector)
            collector.add(page)  # even a partial page's rows are real events; dedup makes keeping them safe
            if page.partial:
                self._split(cursor, end, depth, collector)
                return
            latest = max_time(page.rows)
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

    def _split(self, start: str, end: str, depth: int, collector: Collector) -> None:
        """Axiom gave a partial answer (it stopped early): ask again for each half of what is left."""
        middle = midpoint(start, end)
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
