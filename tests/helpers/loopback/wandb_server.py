"""A loopback stand-in for WandB's cloud API: GraphQL on `POST /graphql` plus signed Parquet file URLs.

This machine cannot reach WandB's cloud, and no realistic local server exists (source-formats.md §B.4), so
this small server answers the operations the real SDK sends, with response shapes taken from the query
text in the installed wheel and in wandb-core (wandb>=0.31,<0.32; re-check when bumping the SDK):
`Viewer`, `GetDefaultEntity`, `Runs` (filters, order, cursor paging), `Run`, `RunHistoryKeys`,
`RunParquetHistory`, `HistoryPage`, and `GET` of Parquet history exports with HTTP Range support; the
artifact and run-file operations are in `wandb_artifacts.py`.

It is a contract test of our assumptions, not of WandB: what it checks is that we send what the SDK
sends and read what WandB documents it answers. Faults (429 with rate-limit headers, 5xx, slow answers,
401) are injected per operation; every request is recorded so tests can count what a sync fetched.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import pyarrow as pa
import pyarrow.parquet as pq

from tests.helpers.loopback.wandb_artifacts import ArtifactOperations, FakeArtifact

OPERATION = re.compile(r"\b(?:query|mutation)\s+(\w+)")


def wandb_time(epoch: float) -> str:
    """WandB's own timestamp string for createdAt/heartbeatAt (second precision, `Z`)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@dataclass
class FakeRun:
    """One run as the server holds it. `exported_steps`: rows with `_step` below it are in the Parquet export."""

    run_id: str
    display_name: str
    state: str
    created_at: float
    heartbeat_at: float
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    group: str | None = None
    job_type: str | None = None
    notes: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    exported_steps: int | None = None  # None: everything exported (a finished run)
    artifacts: list[FakeArtifact] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # run files (media/table/…), by name

    def node(self, project_id: int) -> dict[str, Any]:
        keys: dict[str, Any] = {}
        for row in self.rows:
            for key in row:
                keys.setdefault(key, {"typeCounts": [{"type": "number", "count": 0}]})
        return {
            "projectId": project_id,
            "id": base64.b64encode(f"Run:v1:{self.run_id}".encode()).decode(),
            "tags": self.tags,
            "name": self.run_id,
            "displayName": self.display_name,
            "sweepName": None,
            "state": self.state,
            # WandB answers config values wrapped as {"value": ..., "desc": ...}, as JSON strings.
            "config": json.dumps({k: {"value": v, "desc": None} for k, v in self.config.items()}),
            "group": self.group,
            "jobType": self.job_type,
            "commit": None,
            "readOnly": False,
            "createdAt": wandb_time(self.created_at),
            "heartbeatAt": wandb_time(self.heartbeat_at),
            "description": self.notes,
            "notes": self.notes,
            "systemMetrics": "{}",
            "summaryMetrics": json.dumps(self.summary),
            "historyLineCount": len(self.rows),
            "user": {"name": "researcher", "username": "researcher"},
            "historyKeys": {"lastStep": self.last_step(), "keys": keys},
        }

    def last_step(self) -> int:
        return max((int(r["_step"]) for r in self.rows), default=-1)

    def exported_rows(self) -> list[dict[str, Any]]:
        if self.exported_steps is None:
            return self.rows
        return [r for r in self.rows if r["_step"] < self.exported_steps]

    def live_rows(self) -> list[dict[str, Any]]:
        if self.exported_steps is None:
            return []
        return [r for r in self.rows if r["_step"] >= self.exported_steps]


def history_parquet(rows: list[dict[str, Any]]) -> bytes:
    """WandB's native history export: one wide row per `_step`, one column per key (NULL where not logged).
    Numbers are DOUBLE (`_step` BIGINT), booleans BOOLEAN, strings as written, media and other objects
    as JSON text."""
    keys = sorted({k for row in rows for k in row}, key=lambda k: (not k.startswith("_"), k))
    columns = {}
    for key in keys:
        values = [row.get(key) for row in rows]
        present = [v for v in values if v is not None]
        if all(isinstance(v, bool) for v in present):
            columns[key] = pa.array(values, pa.bool_())
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
            columns[key] = pa.array(values, pa.int64() if key == "_step" else pa.float64())
        else:
            columns[key] = pa.array([v if v is None or isinstance(v, str) else json.dumps(v, sort_keys=True)
                                     for v in values], pa.string())
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue()


@dataclass
class Fault:
    """An answer to give instead of the real one, the next `times` times `operation` is asked for."""

    operation: str  # a GraphQL operation name, or "FILE" for Parquet downloads, or "*"
    status: int | None = 500  # None: the real answer, after `delay_s`
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    delay_s: float = 0.0  # sleep before answering (a timeout when longer than the client's)
    times: int = 1
    only: str = ""  # only requests whose path or variables contain this (e.g. one run id)


class FakeWandb(ArtifactOperations):
    """The server's state: projects of runs, injected faults, and a log of every request."""

    def __init__(self, api_key: str, entity: str = "diplo-lab", project: str = "diplomacy-grpo"):
        self.api_key = api_key
        self.entity = entity
        self.project = project
        self.runs: dict[str, FakeRun] = {}
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []
        self._exports: dict[str, bytes] = {}  # Parquet exports, made once per version of a run
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- state the tests change -------------------------------------------------------------
    def put(self, run: FakeRun) -> None:
        with self.lock:
            self.runs[run.run_id] = run
            self._exports.pop(run.run_id, None)

    def inject(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def operations(self) -> Counter[str]:
        return Counter(r["operation"] for r in self.requests)

    def reset_log(self) -> None:
        with self.lock:
            self.requests.clear()

    # -- serving ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def take_fault(self, operation: str, detail: str = "") -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.operation in (operation, "*") and fault.times > 0 and fault.only in detail:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def authorised(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            _user, _, password = base64.b64decode(value).decode().partition(":")
            return password == self.api_key
        return scheme.lower() == "bearer" and value == self.api_key

    # -- GraphQL ------------------------------------------------------------------------------
    def answer(self, operation: str, variables: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            return {"errors": [{"message": f"Unknown operation named \"{operation}\""}]}
        with self.lock:
            return {"data": handler(variables)}

    def _op_Viewer(self, _: dict) -> dict:
        return {"viewer": {"id": "VXNlcjox", "entity": self.entity, "username": "researcher",
                           "email": "researcher@example.org", "flags": "{}", "teams": {"edges": []}}}

    def _op_GetDefaultEntity(self, _: dict) -> dict:
        return {"viewer": {"id": "VXNlcjox", "entity": self.entity}}

    def _project(self, variables: dict) -> bool:
        return variables.get("entity") == self.entity and variables.get("project") == self.project

    def _op_Runs(self, variables: dict) -> dict:
        if not self._project(variables):
            return {"project": None}
        filters = json.loads(variables.get("filters") or "{}")
        matched = [r for r in self.runs.values() if _matches(r, filters)]
        order = variables.get("order") or "+created_at"
        field_name = {"created_at": "created_at", "heartbeat_at": "heartbeat_at"}.get(order.lstrip("+-"), "created_at")
        matched.sort(key=lambda r: (getattr(r, field_name), r.run_id), reverse=order.startswith("-"))
        start = int(variables.get("cursor") or 0)
        per_page = int(variables.get("perPage") or 50)
        page = matched[start : start + per_page]
        return {
            "project": {
                "internalId": "UHJvamVjdDox",
                "runCount": len(matched),
                "readOnly": False,
                "runs": {
                    "edges": [{"node": r.node(1), "cursor": str(start + i + 1)} for i, r in enumerate(page)],
                    "pageInfo": {"endCursor": str(start + len(page)), "hasNextPage": start + per_page < len(matched)},
                },
            }
        }

    def _run(self, variables: dict) -> FakeRun | None:
        name = variables.get("name") or variables.get("runName") or variables.get("run")
        return self.runs.get(name) if self._project(variables) else None

    def _op_Run(self, variables: dict) -> dict:
        run = self._run(variables)
        return {"project": {"run": run.node(1) if run else None}}

    def _op_RunHistoryKeys(self, variables: dict) -> dict:
        run = self._run(variables)
        return {"project": {"run": {"historyKeys": run.node(1)["historyKeys"]} if run else None}}

    def _op_RunParquetHistory(self, variables: dict) -> dict:
        run = self._run(variables)
        if run is None:
            return {"project": {"run": None}}
        urls = [f"{self.url}/files/{self.entity}/{self.project}/{run.run_id}/history-0.parquet?signature=loopback"]
        # Steps not exported to Parquet yet come inline, one object per row (wandb-core wants maps).
        live = [dict(row) for row in run.live_rows()]
        return {"project": {"run": {"parquetHistory": {"parquetUrls": urls, "liveData": live}}}}

    def _op_HistoryPage(self, variables: dict) -> dict:
        run = self._run(variables)
        if run is None:
            return {"project": {"run": None}}
        lo, hi, size = int(variables["minStep"]), int(variables["maxStep"]), int(variables["pageSize"])
        rows = [json.dumps(r) for r in run.rows if lo <= r["_step"] < hi][:size]
        return {"project": {"run": {"history": rows}}}

    def parquet_file(self, run_id: str) -> bytes | None:
        with self.lock:
            run = self.runs.get(run_id)
            if run is None:
                return None
            if run_id not in self._exports:
                self._exports[run_id] = history_parquet(run.exported_rows())
            return self._exports[run_id]


WANDB_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
COMPARE = {
    "$eq": lambda a, b: a == b, "$ne": lambda a, b: a != b, "$in": lambda a, b: a in b,
    "$gt": lambda a, b: a is not None and a > b, "$gte": lambda a, b: a is not None and a >= b,
    "$lt": lambda a, b: a is not None and a < b, "$lte": lambda a, b: a is not None and a <= b,
}


def _matches(run: FakeRun, filters: dict[str, Any]) -> bool:
    """The subset of WandB's Mongo-style run filters the ingester uses ($and/$or and comparisons)."""
    for key, condition in filters.items():
        if key in ("$and", "$or"):
            combine = all if key == "$and" else any
            if not combine(_matches(run, f) for f in condition):
                return False
            continue
        actual = {"state": run.state, "name": run.run_id, "displayName": run.display_name,
                  "heartbeatAt": wandb_time(run.heartbeat_at), "createdAt": wandb_time(run.created_at)}.get(key)
        for op, expected in (condition if isinstance(condition, dict) else {"$eq": condition}).items():
            # WandB compares timestamps in its own format; any other string silently matches nothing.
            is_wandb_time = isinstance(expected, str) and WANDB_TIME.fullmatch(expected)
            if key in ("heartbeatAt", "createdAt") and not is_wandb_time:
                return False
            if not COMPARE[op](actual, expected):
                return False
    return True


def _handler(fake: FakeWandb) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            return

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _fault(self, fault: Fault) -> None:
            if fault.delay_s:
                time.sleep(fault.delay_s)
            body = json.dumps(fault.body if fault.body is not None else {"errors": [{"message": "injected"}]})
            try:
                self._send(fault.status, body.encode(), fault.headers)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting: that is the point of a slow answer

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if not self.path.startswith("/graphql"):
                # wandb-core also posts its own OpenTelemetry metrics to the host (/sdk/otel/...).
                self._send(200, b"", content_type="application/x-protobuf")
                return
            payload = json.loads(raw or b"{}")
            query = payload.get("query", "")
            match = OPERATION.search(query)
            operation = payload.get("operationName") or (match[1] if match else "")
            record = {"operation": operation, "variables": payload.get("variables") or {}, "query": query,
                      "path": self.path, "headers": dict(self.headers)}
            with fake.lock:
                fake.requests.append(record)
            if not fake.authorised(self.headers.get("Authorization")):
                self._send(401, b'{"errors":[{"message":"user is not authorized"}]}')
                return
            fault = fake.take_fault(operation, json.dumps(record["variables"]))
            if fault and fault.status is None:
                time.sleep(fault.delay_s)
            elif fault:
                self._fault(fault)
                return
            self._send(200, json.dumps(fake.answer(operation, record["variables"])).encode())

        def do_GET(self) -> None:
            # A run file (a logged table's JSON) is RUNFILE; FILE is a Parquet history export.
            operation = "RUNFILE" if self.path.startswith("/runfiles/") else "FILE"
            with fake.lock:
                fake.requests.append({"operation": operation, "path": self.path, "headers": dict(self.headers),
                                      "variables": {}})
            fault = fake.take_fault(operation, self.path)
            if fault and fault.status is None:
                time.sleep(fault.delay_s)
            elif fault:
                self._fault(fault)
                return
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts[0] == "runfiles" and len(parts) > 4:
                data = fake.run_file(parts[3], "/".join(parts[4:]))
                self._send(*((200, data) if data is not None else (404, b"not found")),
                           content_type="application/octet-stream")
                return
            if len(parts) != 5 or parts[0] != "files":
                self._send(404, b"not found", content_type="text/plain")
                return
            data = fake.parquet_file(parts[3])
            if data is None:
                self._send(404, b"not found", content_type="text/plain")
                return
            self._send_range(data)

        def do_HEAD(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            data = fake.parquet_file(parts[3]) if len(parts) == 5 else None
            self.send_response(200 if data is not None else 404)
            self.send_header("Content-Length", str(len(data or b"")))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()

        def _send_range(self, data: bytes) -> None:
            """Byte ranges as HTTP/1.1 serves them: readers of remote Parquet fetch the footer first."""
            wanted = self.headers.get("Range")
            headers = {"Accept-Ranges": "bytes"}
            if not wanted:
                self._send(200, data, headers, "application/octet-stream")
                return
            match = re.fullmatch(r"bytes=(\d*)-(\d*)", wanted.strip())
            if not match:
                self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                return
            first, last = match.groups()
            if first == "":
                start, end = max(0, len(data) - int(last)), len(data) - 1
            else:
                start, end = int(first), min(int(last) if last else len(data) - 1, len(data) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            self._send(206, data[start : end + 1], headers, "application/octet-stream")

    return Handler


def runs_from_offline(roots: list[Path]) -> list[FakeRun]:
    """Offline runs written by the real SDK, as WandB's cloud would hold them after syncing: a resumed
    run's later segments continue `_step` after the last one the server holds (offline segments each
    count from where their checkpoint was), state as the files say."""
    from diplo_pipeline.lib.wandb.run_tables import discover_runs, read_run

    fakes = []
    for run in discover_runs(roots).values():
        tables = read_run(run, idle_limit_s=0)
        info = tables.runs.to_pylist()[0]
        rows: list[dict[str, Any]] = []
        for wf in tables.files:
            if not wf.history:
                continue
            offset = max(0, (rows[-1]["_step"] + 1 if rows else 0) - int(wf.history[0]["_step"]))
            rows.extend({**row, "_step": int(row["_step"]) + offset} for row in wf.history)
        config, summary = {}, {}
        for wf in tables.files:
            config.update(wf.config)
            summary.update(wf.summary)
        last_ts = max((r.get("_timestamp", 0.0) for r in rows), default=info["created_at"].timestamp())
        files = {m["path"]: Path(m["local_path"]).read_bytes() for m in tables.media.to_pylist() if m["local_path"]}
        fakes.append(FakeRun(
            run_id=run.run_id, display_name=info["run_name"], state=info["state"],
            created_at=info["created_at"].timestamp(), heartbeat_at=last_ts, config=config, summary=summary,
            tags=list(info["tags"]), group=info["group_name"], job_type=info["job_type"], notes=info["notes"],
            rows=rows, files=files, artifacts=synced_artifacts(tables.artifacts.to_pylist()),
        ))
    return fakes


def synced_artifacts(offline: list[dict[str, Any]]) -> list[FakeArtifact]:
    """Offline artifact rows as the server holds them once synced: each collection numbered from v0 in the
    order logged, the files' bytes from the SDK's staging copies."""
    versions: Counter[str] = Counter()
    out = []
    for row in offline:
        files = {name: Path(local).read_bytes() if local else b""
                 for name, local in zip(row["files"], row["file_local_paths"], strict=True)}
        out.append(FakeArtifact(name=row["name"], type=row["type"], version_index=versions[row["name"]],
                                digest=row["digest"] or "", direction=row["direction"],
                                aliases=list(row["aliases"]), files=files, metadata=row["metadata"] or "{}"))
        versions[row["name"]] += 1
    return out
