"""An advisory lock on a lake state file, so concurrent writers of one state file (the export index,
the pending days) never lose each other's updates."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, as before
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def locked(state_file: Path) -> Iterator[None]:
    """Hold an exclusive lock beside a state file for a read-modify-write (export and API staging can run
    in parallel Dagster steps). Not re-entrant: never nest two `_locked` of the same file."""
    state_file.parent.mkdir(parents=True, exist_ok=True)
    with open(state_file.with_name(f".{state_file.name}.lock"), "a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
