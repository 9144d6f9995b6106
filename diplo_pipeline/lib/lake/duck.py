"""DuckDB connections as the warehouse uses them: UTC, no progress bar, closed when done.

A connection left open holds memory and, on a database file, its lock; every short-lived connection goes
through `duckdb_session` so none is forgotten.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb


@contextlib.contextmanager
def duckdb_session(
    database: str | Path = ":memory:", *, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection set up the warehouse's way (times in UTC), closed on exit."""
    con = duckdb.connect(str(database), read_only=read_only)
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute("set enable_progress_bar = false")
        yield con
    finally:
        con.close()


def records(relation: duckdb.DuckDBPyRelation) -> list[dict[str, Any]]:
    """A relation's rows as dicts keyed by column name."""
    columns = relation.columns
    return [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]
