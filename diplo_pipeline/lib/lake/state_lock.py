"""Axiom export files → day partitions of deduplicated raw events.

Two steps, both incremental. Staging parses each new or changed export file once into its own Parquet
file (lake/raw/axiom/export_files/<key>.parquet) and records which days it touches. A day partition is
then rebuilt from every staged file that touches that day, keeping one row per `event_id`, so the same
event in two overlapping exports is stored once and removing an export removes only what it alone held.

Rows fetched from Axiom's query API are staged the same way (axiom_api_ingest.py), one staged file per
fetched day, recorded in the same index with `"source": "api"`, so a day partition holds API rows and
export-file rows deduplicated together. Export staging leaves those entries alone."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

try:  # an advisory lock keeps concurrent writers of one state file from losing each other's updates
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
