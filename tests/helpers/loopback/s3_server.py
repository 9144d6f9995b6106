"""A loopback S3 for the object-storage tests: moto's server mode, which stands in for S3, MinIO or GCS's
S3 interoperability (the same REST API, path-style URLs, SigV4 signatures) on 127.0.0.1.

`loopback_s3()` starts it on a free port with one bucket and yields the environment a `diplo` process needs
to use it (`DIPLO_LAKE_URL` and the `AWS_*` variables every S3 client reads).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

BUCKET = "diplo-lake"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "loopback-key", "AWS_SECRET_ACCESS_KEY": "loopback-secret",
               "AWS_REGION": "us-east-1"}


@dataclass(frozen=True)
class LoopbackS3:
    endpoint: str
    bucket: str
    prefix: str

    @property
    def lake_url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def env(self) -> dict[str, str]:
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint, "DIPLO_LAKE_URL": self.lake_url}

    def client(self):
        """An SDK client on the same server (boto3 comes with moto): to look at the bucket from outside."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                            region_name=CREDENTIALS["AWS_REGION"])

    def keys(self, under: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                         Prefix=f"{self.prefix}/{under}")
        return sorted(o["Key"].removeprefix(f"{self.prefix}/") for page in pages for o in page.get("Contents", []))


_CONDITIONAL_WRITES = threading.Lock()


def _make_conditional_puts_atomic() -> None:
    """S3 decides `PUT If-None-Match: *` and `PUT If-Match` atomically: of two at once exactly one wins. moto
    5.2 checks the condition and then stores, in the request's own thread, so two hosts asking for the bucket's
    lease in the same millisecond could both get it (one explanation of a CI run where neither host waited).
    One lock around its conditional PUTs makes the fake keep S3's promise; unconditional PUTs still run in
    parallel. A fake only because moto is: lib/lake/bucket_lease.py relies on what real S3 guarantees."""
    from moto.s3.responses import S3Response

    if getattr(S3Response.put_object, "diplo_atomic", False):
        return
    put_object = S3Response.put_object

    def atomic_put_object(self):
        if self.headers.get("If-Match") or self.headers.get("If-None-Match"):
            with _CONDITIONAL_WRITES:
                return put_object(self)
        return put_object(self)

    atomic_put_object.diplo_atomic = True
    S3Response.put_object = atomic_put_object


@contextlib.contextmanager
def loopback_s3(prefix: str = "team") -> Iterator[LoopbackS3]:
    from moto.server import ThreadedMotoServer

    _make_conditional_puts_atomic()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        store = LoopbackS3(f"http://{host}:{port}", BUCKET, prefix)
        store.client().create_bucket(Bucket=BUCKET)
        yield store
    finally:
        server.stop()
