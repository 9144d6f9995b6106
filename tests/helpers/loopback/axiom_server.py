"""A loopback stand-in for Axiom's APL query endpoint (`POST /v1/datasets/_apl?format=tabular|legacy`).

This machine cannot reach Axiom, so the client is tested against a real HTTP server on 127.0.0.1 that
answers the way the documented API does (source-formats.md §C.1): responses are built to the `AplResult`
schema of axiomhq/docs `restapi/versions/v1.json` (`datasetNames`, `format` and every required `status`
field: elapsedTime, blocksExamined, rowsExamined, rowsMatched, numGroups, isPartial, cacheStatus,
minBlockTime, maxBlockTime), tabular answers are column-major tables with typed fields, order, range and
sources, legacy answers are `matches` of `{_time, _sysTime, _rowId, data}`. Errors carry `{code, message}`
and an `X-Axiom-Trace-Id`; 429s carry the `X-RateLimit-*` headers.

It really evaluates what the client sends: the bearer token (and `X-Axiom-Org-Id` when configured), the
[startTime, endTime) window to the nanosecond, `sort by _time asc|desc` and `limit N` from the APL, and
Axiom's default limit of 1,000 with its "A default limit of 1000 was applied" message when the APL has no
limit. Faults are scripted per request (`queue`): status codes with bodies and headers, delays longer
than the client's timeout, partial answers with a truncated row set, and an ignored limit. Every request
is recorded (path, query, body, headers, arrival time) for assertions.

It is a contract test of our reading of the docs, not of Axiom: aggregations (and their `_totals` table),
`where` clauses, cursors and relative times are not implemented and answer 400.
"""

from __future__ import annotations

import bisect
import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

TOKEN = "xaat-loopback-0123456789-secret"
DEFAULT_LIMIT = 1000
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")
_APL = re.compile(r"^\s*\['(?P<dataset>(?:[^'\\]|\\.)+)'\](?P<ops>.*)$", re.DOTALL)


def to_ns(raw: str) -> int:
    """RFC3339Nano → integer nanoseconds since the epoch (independent of the code under test)."""
    match = _TIME.match(raw)
    if not match:
        raise ValueError(f"not RFC3339: {raw!r}")
    tz = "+00:00" if match[3] == "Z" else match[3]
    seconds = int(datetime.fromisoformat(match[1] + tz).timestamp())
    return seconds * 1_000_000_000 + int((match[2] or "").ljust(9, "0"))


@dataclass
class Reply:
    """One scripted answer, used for the next request instead of (or on top of) the normal one."""

    status: int = 200
    body: Any = None  # error body; None gives Axiom's `{code, message}`
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # sleep before answering (longer than the client's timeout: a timeout)
    partial_keep: float | None = None  # answer 200 with isPartial and only this fraction of the rows
    ignore_limit: bool = False  # apply the default limit as if the APL had none, with its message
    reset_in_s: int | None = None  # 429: X-RateLimit-Reset = now (epoch s) + this, computed when sent


def rate_limited(reset_in_s: int = 1) -> Reply:
    return Reply(429, {"message": "rate limit exceeded"}, reset_in_s=reset_in_s)


def retry_after(seconds: float) -> Reply:
    return Reply(429, {"message": "rate limit exceeded"}, {"Retry-After": f"{seconds:g}"})


def server_error(status: int = 500) -> Reply:
    return Reply(status, {"code": status, "message": "internal server error"})


def slow(delay_s: float) -> Reply:
    return Reply(delay_s=delay_s)


def partial(keep: float = 0.5) -> Reply:
    return Reply(partial_keep=keep)


def default_limit() -> Reply:
    return Reply(ignore_limit=True)


def bad_query(message: str = "invalid APL") -> Reply:
    return Reply(400, {"code": 400, "message": message,
                       "detail": {"line": 1, "column": 3, "compileErrorCode": 1, "errorType": "syntax",
                                  "message": message}})


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    at: float  # epoch seconds when the request arrived


class _Error(Exception):
    def __init__(self, status: int, message: str, detail: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.detail = status, message, detail


def _field_type(name: str, values: list[Any]) -> str:
    if name in ("_time", "_sysTime"):
        return "datetime"
    kinds = set()
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            kinds.add("boolean")
        elif isinstance(value, int):
            kinds.add("integer")
        elif isinstance(value, float):
            kinds.add("float")
        elif isinstance(value, str):
            kinds.add("string")
        else:
            kinds.add("unknown")
    if kinds == {"integer", "float"}:
        return "float"
    return kinds.pop() if len(kinds) == 1 else "unknown"


class AxiomLoopback:
    """`with AxiomLoopback(events) as axiom:` … `axiom.url`, `axiom.requests`, `axiom.queue(...)`."""

    def __init__(self, events: list[dict] = (), *, token: str = TOKEN, dataset: str = "diplomacy",
                 org_id: str | None = None) -> None:
        self.token, self.dataset, self.org_id = token, dataset, org_id
        self.requests: list[Recorded] = []
        self.partial_wider_than_s: float | None = None  # windows wider than this answer partially
        self.default_limit = DEFAULT_LIMIT  # rows Axiom returns when no limit applies
        self._events: list[tuple[int, int, dict]] = []  # (ns, sequence, stored event), in time order
        self._times: list[int] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.add(events)

    # -- data and script -----------------------------------------------------------------------------

    def add(self, events: list[dict]) -> None:
        """Ingest events; like Axiom, each gets a `_sysTime` (if it has none) and a `_rowId`."""
        with self._lock:
            for event in events:
                seq = len(self._events)
                stored = {"_sysTime": event["_time"], **event}
                stored["_rowId"] = f"loop{secrets.token_hex(4)}-{seq:08x}-0"
                self._events.append((to_ns(event["_time"]), seq, stored))
            self._events.sort(key=lambda e: (e[0], e[1]))  # time order, so a window is two bisections
            self._times = [e[0] for e in self._events]

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def bodies(self) -> list[dict]:
        return [r.body for r in self.requests]

    # -- lifecycle -----------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.loopback = self  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, args=(0.02,), name="axiom-loopback", daemon=True).start()
        self._server = server
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "use the server as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- answering -----------------------------------------------------------------------------------

    def record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def answer(self, path: str, query: dict[str, str], body: Any, headers: dict[str, str]
               ) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body, headers) for one request."""
        try:
            if path != "/v1/datasets/_apl":
                raise _Error(404, "not found")
            if headers.get("authorization") != f"Bearer {self.token}":
                raise _Error(401, "invalid authentication credentials")
            if self.org_id is not None and headers.get("x-axiom-org-id") != self.org_id:
                raise _Error(403, "forbidden: missing or wrong X-Axiom-Org-Id")
            reply = self._next_reply()
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if reply.status != 200:
                return self._scripted_error(reply)
            return 200, self._query(query, body, reply), self._ok_headers()
        except _Error as exc:
            payload: dict[str, Any] = {"code": exc.status, "message": exc.message}
            if exc.detail:
                payload["detail"] = exc.detail
            return exc.status, payload, {"X-Axiom-Trace-Id": secrets.token_hex(16)}

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._script.popleft() if self._script else Reply()

    def _scripted_error(self, reply: Reply) -> tuple[int, Any, dict[str, str]]:
        headers = {"X-Axiom-Trace-Id": secrets.token_hex(16), **reply.headers}
        if reply.reset_in_s is not None:
            headers.update({
                "X-RateLimit-Scope": "user", "X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time()) + reply.reset_in_s),
            })
        body = reply.body if reply.body is not None else {"code": reply.status, "message": "error"}
        return reply.status, body, headers

    @staticmethod
    def _ok_headers() -> dict[str, str]:
        return {
            "X-Axiom-History-Query-Id": secrets.token_hex(9),
            "X-RateLimit-Scope": "user", "X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "599",
            "X-RateLimit-Reset": str(int(time.time()) + 60),
            "X-QueryLimit-Limit": "1000000", "X-QueryLimit-Remaining": "999000",
            "X-QueryLimit-Reset": str(int(time.time()) + 3600),
        }

    def _parse_apl(self, apl: Any) -> tuple[str, bool | None, int | None]:
        """(dataset, descending or None when unsorted, limit or None) of `['ds'] | sort by _time | limit N`."""
        match = _APL.match(apl) if isinstance(apl, str) else None
        if not match:
            raise _Error(400, "invalid APL: expected ['dataset'] | ...",
                         {"line": 1, "column": 1, "errorType": "syntax", "message": "expected a dataset"})
        descending, limit = None, None
        for op in (o.strip() for o in match["ops"].split("|") if o.strip()):
            if m := re.fullmatch(r"sort by _time(?: (asc|desc))?", op):
                descending = m[1] != "asc"  # APL sorts descending unless told asc
            elif m := re.fullmatch(r"(?:limit|take) (\d+)", op):
                limit = int(m[1])
            else:
                raise _Error(400, f"unsupported operator in loopback: {op!r}",
                             {"line": 1, "column": 1, "errorType": "unsupported", "message": op})
        return match["dataset"].replace("\\'", "'").replace("\\\\", "\\"), descending, limit

    def _window(self, body: dict) -> tuple[int, int]:
        try:
            return to_ns(body["startTime"]), to_ns(body["endTime"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _Error(400, f"startTime/endTime must be RFC3339 strings: {exc}") from None

    def _query(self, query: dict[str, str], body: Any, reply: Reply) -> dict[str, Any]:
        started = time.perf_counter()
        fmt = query.get("format")
        if fmt not in ("tabular", "legacy"):
            raise _Error(400, "query parameter format must be tabular or legacy")
        if not isinstance(body, dict):
            raise _Error(400, "request body must be a JSON object")
        dataset, descending, limit = self._parse_apl(body.get("apl"))
        if dataset != self.dataset:
            raise _Error(404, f"dataset {dataset!r} not found")
        start, end = self._window(body)
        with self._lock:
            events = self._events
            matched = events[bisect.bisect_left(self._times, start):bisect.bisect_left(self._times, end)]
        if descending is not False:  # Axiom's default order is newest first
            matched.reverse()
        messages = []
        if limit is None or reply.ignore_limit:
            if len(matched) > self.default_limit or reply.ignore_limit:
                # The documented wording; `default_limit` may differ to play a server that caps lower.
                messages.append({"priority": "warn", "count": 1, "code": "default_limit_warning",
                                 "msg": f"A default limit of {DEFAULT_LIMIT} was applied"})
            limit = self.default_limit
        rows = [e[2] for e in matched[:limit]]
        is_partial = reply.partial_keep is not None or (
            self.partial_wider_than_s is not None and (end - start) / 1e9 > self.partial_wider_than_s
        )
        if is_partial:  # the query stopped early: only the first part of the rows came back
            keep = 0.5 if reply.partial_keep is None else reply.partial_keep
            rows = rows[: int(len(rows) * keep)]
        status = {
            "elapsedTime": int((time.perf_counter() - started) * 1e6),
            "blocksExamined": max(1, (len(events) + 999) // 1000),
            "rowsExamined": len(events),
            "rowsMatched": len(matched),
            "numGroups": 0,
            "isPartial": is_partial,
            "cacheStatus": 1,
            "minBlockTime": events[0][2]["_time"] if events else "0001-01-01T00:00:00Z",
            "maxBlockTime": events[-1][2]["_time"] if events else "0001-01-01T00:00:00Z",
        }
        if messages:
            status["messages"] = messages
        order = [{"field": "_time", "desc": descending is not False}]
        if fmt == "legacy":
            return {"status": status, "matches": [_match(r) for r in rows], "buckets": {"series": [], "totals": []},
                    "datasetNames": [dataset], "format": "legacy"}
        return {"status": status, "tables": [_table(dataset, rows, order, body)], "datasetNames": [dataset],
                "format": "tabular", "fieldsMetaMap": {dataset: []}}


def _match(row: dict) -> dict:
    data = {k: v for k, v in row.items() if k not in ("_time", "_sysTime", "_rowId")}
    return {"_time": row["_time"], "_sysTime": row["_sysTime"], "_rowId": row["_rowId"], "data": data}


def _table(dataset: str, rows: list[dict], order: list[dict], body: dict) -> dict:
    """Column-major, as Axiom sends it: one column per field of any row, null where a row lacks it.
    `_rowId` is not a tabular column (Axiom shows it only with cursors)."""
    names = {k for row in rows for k in row if k != "_rowId"}
    fields = ["_time", "_sysTime", *sorted(names - {"_time", "_sysTime"})]
    columns = [[row.get(name) for row in rows] for name in fields]
    return {
        "name": "0",
        "sources": [{"name": dataset}],
        "fields": [{"name": n, "type": _field_type(n, c)} for n, c in zip(fields, columns, strict=True)],
        "order": order,
        "groups": [],
        "range": {"field": "_time", "start": body["startTime"], "end": body["endTime"]},
        "columns": columns,
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: without this, ~40 ms each

    def do_POST(self) -> None:
        self._handle("POST")

    def do_GET(self) -> None:
        self._handle("GET")

    def _handle(self, method: str) -> None:
        loopback: AxiomLoopback = self.server.loopback  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query))
        headers = {k.lower(): v for k, v in self.headers.items()}
        loopback.record(Recorded(method, split.path, query, body, headers, time.time()))
        status, payload, extra = loopback.answer(split.path, query, body, headers)
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a scripted delay beyond its timeout)

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


def utc(text: str) -> datetime:
    """`utc("2025-12-21T10:30:00")` → an aware datetime, for `now` in tests."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
