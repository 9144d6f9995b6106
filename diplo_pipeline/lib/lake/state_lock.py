"""An advisory lock on a lake state file, so concurrent writers of one state file (the export index,
the pending days) never lose each other's updates."""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from diplo_pipeline.lib.lake.object_store import ObjectPath

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, as before
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def locked(state_file: Path | ObjectPath) -> Iterator[None]:
    """Hold an exclusive lock beside a state file for a read-modify-write (export and API staging can run
    in parallel Dagster steps). Not re-entrant: never nest two `_locked` of the same file. A state file in a
    bucket is locked on this host (a lock file named after its URL in the temp folder): the steps of one
    build share a host, and builds on several hosts are kept apart by the bucket's lease
    (lib/lake/bucket_lease.py)."""
    if isinstance(state_file, ObjectPath):
        digest = hashlib.sha256(str(state_file).encode()).hexdigest()[:24]
        lock_file = Path(tempfile.gettempdir()) / "diplo-state-locks" / f"{digest}.lock"
    else:
        lock_file = state_file.with_name(f".{state_file.name}.lock")
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
