"""One build at a time on a lake in a bucket, whichever host it runs on: a lease object taken by a conditional PUT.

lib/lake/build_lock.py locks a file with `fcntl`, which only the processes of one host see. Two hosts sharing
a bucket take `<lake url>/_lease/build.json` instead:
- taking it is `PUT If-None-Match: *` — S3 (since 2024), MinIO and GCS's interop API create the object only
  if it does not exist, so of two builds asking at once exactly one gets it; the other waits, saying whom for;
- the holder renews it (`PUT If-Match: <its ETag>`) every third of its lifetime from a background thread, and
  deletes it (`DELETE If-Match`) when done;
- a holder that died (a killed pod, a lost host) stops renewing: once its `expires_at` has passed, a waiter
  replaces the lease with `PUT If-Match: <the dead one's ETag>`, so two waiters cannot both take it over.

pyarrow's S3 filesystem sends no conditional headers, so the lease speaks to the bucket through boto3.
Serialising whole builds is what keeps the lake whole across hosts: the `_state/` files are read-modify-
written by a build, and a partition's files are written from state the same build read.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from diplo_pipeline.lib.lake.object_store import ObjectPath

POLL_S = 1.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def lease_path(lake: ObjectPath) -> ObjectPath:
    return lake / "_lease" / "build.json"


def _client(path: ObjectPath):
    import boto3  # only a lake in a bucket needs it

    settings = path.settings
    return boto3.client("s3", endpoint_url=settings.endpoint, region_name=settings.region,
                        aws_access_key_id=settings.key_id, aws_secret_access_key=settings.secret)


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None) or {}
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def describe(holder: dict) -> str:
    return (f"the build started by PID {holder.get('pid')} on {holder.get('host')} at {holder.get('started_at')} "
            f"(its lease runs to {holder.get('expires_at')})")


@dataclass
class Lease:
    path: ObjectPath
    seconds: float
    etag: str | None = None
    lost: bool = False

    def _body(self, started_at: str) -> bytes:
        return json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(), "started_at": started_at,
            "expires_at": _stamp(_now() + dt.timedelta(seconds=self.seconds)), "command": " ".join(sys.argv),
        }).encode()

    def _put(self, client, body: bytes, **condition) -> str | None:
        """The new ETag, or None when the condition did not hold (another build has the lease)."""
        try:
            answer = client.put_object(Bucket=self.path.bucket, Key=self.path.key, Body=body, **condition)
        except Exception as exc:  # botocore's ClientError; 412 = precondition failed, 409 = a concurrent write
            if _status(exc) in (409, 412):
                return None
            raise
        return answer["ETag"]

    def _current(self, client) -> tuple[dict, str] | None:
        try:
            answer = client.get_object(Bucket=self.path.bucket, Key=self.path.key)
        except Exception as exc:
            if _status(exc) == 404:
                return None
            raise
        return json.loads(answer["Body"].read() or b"{}"), answer["ETag"]

    def acquire(self, on_wait: Callable[[str], None]) -> None:
        client, started_at, told = _client(self.path), _stamp(_now()), False
        while True:
            self.etag = self._put(client, self._body(started_at), IfNoneMatch="*")
            if self.etag:
                return
            current = self._current(client)
            if current is None:
                continue  # released between our PUT and GET: ask again
            holder, etag = current
            expired = holder.get("expires_at", "") < _stamp(_now())
            if expired:
                self.etag = self._put(client, self._body(started_at), IfMatch=etag)
                if self.etag:
                    on_wait(f"took over the bucket's build lease from {describe(holder)}: it expired")
                    return
            elif not told:
                on_wait(f"waiting for {describe(holder)} to finish (lease {self.path})")
                told = True
            time.sleep(POLL_S)

    def renew(self, client, started_at: str) -> None:
        etag = self._put(client, self._body(started_at), IfMatch=self.etag)
        if etag is None:
            self.lost = True  # taken over after we stalled past our expiry: say so when the build ends
        else:
            self.etag = etag

    def release(self) -> None:
        if self.etag and not self.lost:
            with contextlib.suppress(Exception):  # gone already: a waiter took it over
                _client(self.path).delete_object(Bucket=self.path.bucket, Key=self.path.key, IfMatch=self.etag)


@contextlib.contextmanager
def bucket_lease(lake: ObjectPath, seconds: float, on_wait: Callable[[str], None] = lambda _: None
                 ) -> Iterator[Lease]:
    """Hold the bucket's build lease until the block ends, renewing it every `seconds / 3`."""
    lease = Lease(lease_path(lake), seconds)
    lease.acquire(on_wait)
    stop = threading.Event()
    started_at = _stamp(_now())

    def keep_renewing() -> None:
        client = _client(lease.path)
        while not stop.wait(seconds / 3) and not lease.lost:
            lease.renew(client, started_at)

    renewer = threading.Thread(target=keep_renewing, name="bucket-lease", daemon=True)
    renewer.start()
    try:
        yield lease
    finally:
        stop.set()
        renewer.join()
        lease.release()


@contextlib.contextmanager
def shared_lake_lease(lake, seconds: float, on_wait: Callable[[str], None] = lambda _: None
                      ) -> Iterator[Lease | None]:
    """The bucket's lease when the lake is in one; on disk nothing (the build lock's flock covers one host)."""
    if not isinstance(lake, ObjectPath):
        yield None
        return
    with bucket_lease(lake, seconds, on_wait) as lease:
        yield lease
