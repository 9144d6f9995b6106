"""One `diplo build` per data dir and per Dagster home at a time.

Two builds at once on a fresh Dagster home both create its run storage and leave two `alembic_version` rows
in `runs.db`, after which every build fails; two builds on one data dir would race on the lake and the
catalog. So `diplo build` holds an exclusive lock (`fcntl.flock`) on `.diplo-build.lock` in the data dir and
in the Dagster home for its whole run. The holder writes its PID, host and start time into the file, so a
second build says whom it is waiting for, then goes ahead when the first finishes. The kernel drops a flock
when its process ends, so a killed build never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

LOCK_NAME = ".diplo-build.lock"


def lock_paths(folders: Iterable[Path]) -> list[Path]:
    """One lock file per folder, in a fixed order, so two builds taking both never wait on each other."""
    return sorted({folder.resolve() / LOCK_NAME for folder in folders})


def describe_holder(path: Path) -> str:
    """Who holds the lock, as the holder wrote it into the lock file."""
    try:
        holder = json.loads(path.read_text() or "null")
    except (OSError, ValueError):
        holder = None
    if not isinstance(holder, dict):
        return "another build (it has not written its name yet)"
    return f"the build started by PID {holder['pid']} on {holder['host']} at {holder['started_at']}"


@contextlib.contextmanager
def _hold(path: Path, on_wait: Callable[[str], None]) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait(f"waiting for {describe_holder(path)} to finish (lock file {path})")
            fcntl.flock(fd, fcntl.LOCK_EX)
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "command": " ".join(sys.argv),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # the next holder's name, not ours, is what a waiter should read
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def build_lock(folders: Iterable[Path], on_wait: Callable[[str], None] = lambda _: None) -> Iterator[list[Path]]:
    """Hold the build lock of every folder (the data dir and the Dagster home) until the block ends."""
    paths = lock_paths(folders)
    with contextlib.ExitStack() as stack:
        for path in paths:
            stack.enter_context(_hold(path, on_wait))
        yield paths
