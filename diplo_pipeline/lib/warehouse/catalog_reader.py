"""Reading the catalog that lib/warehouse/catalog.py publishes: read-only, or, while another process holds it
read-write, the same relations from the lake through the views script beside it.

Kept apart from catalog.py, which builds the catalog with pyarrow and the SQL project: a `diplo` query
imports this module and DuckDB, nothing more.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb

from diplo_pipeline.lib.lake.duck import connect, httpfs_extension, s3_secret_sql, use_object_storage
from diplo_pipeline.lib.lake.object_store import ObjectPath

ATTACHED_AS = "diplo"


def views_path(catalog: Path) -> Path:
    return catalog.with_name(f"{catalog.name}.views.sql")


def newest_published(catalog: ObjectPath) -> ObjectPath:
    """The immutable catalog object the bucket's pointer names (lib/warehouse/catalog_versions.py); the
    pointer sits beside `warehouse.duckdb`."""
    try:
        pointer = json.loads((catalog.parent / "catalog.json").read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no catalog published at {catalog.parent}: run `diplo build` with "
                                "DIPLO_LAKE_URL set first") from None
    return catalog.parent / pointer["catalog"]


def attach_sql(url: ObjectPath | str) -> str:
    return f"ATTACH '{url}' AS {ATTACHED_AS} (READ_ONLY); USE {ATTACHED_AS};"


def attach_recipe(catalog: Path | ObjectPath) -> str:
    """One line of SQL for the DuckDB CLI that opens the newest catalog read-only: in a bucket, httpfs from
    its package, a secret whose credentials the CLI reads from the reader's own AWS_* variables (`getenv`:
    nothing secret is printed), and the immutable catalog object; on disk, the catalog file."""
    if not isinstance(catalog, ObjectPath):
        if not catalog.exists():
            raise FileNotFoundError(f"no catalog at {catalog}: run `diplo build` (or `make demo`) first")
        return attach_sql(catalog.resolve())
    url = newest_published(catalog)
    secret = s3_secret_sql(catalog.settings, credentials_from_env=True)
    return f"LOAD '{httpfs_extension()}'; {secret}; {attach_sql(url)}"


def connect_published(catalog: ObjectPath) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the bucket's newest catalog attached read-only (over httpfs): the catalog and
    every file its views read are immutable objects, so this connection sees one build for as long as it
    stays open."""
    url = newest_published(catalog)
    con = connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        use_object_storage(con, force=True)
        con.execute(attach_sql(url))
    except BaseException:
        con.close()
        raise
    return con


def connect_readonly(catalog: Path | ObjectPath) -> duckdb.DuckDBPyConnection:
    """A read-only connection: never blocks a build (the build never writes this file in place)."""
    if isinstance(catalog, ObjectPath):
        return connect_published(catalog)
    if not catalog.exists():
        raise FileNotFoundError(f"no catalog at {catalog}: run `diplo build` (or `make demo`) first")
    con = connect(catalog, read_only=True)
    con.execute("set TimeZone = 'UTC'")
    return con


class CatalogLocked(Exception):
    """Another process holds the catalog open read-write, and there is no views script to answer from."""


def is_lock_conflict(exc: duckdb.Error) -> bool:
    return isinstance(exc, duckdb.IOException) and "Conflicting lock" in str(exc)


def lock_holder(message: str) -> str:
    """Who holds the lock, from DuckDB's error: "... Conflicting lock is held in <program> (PID <n>) ..."."""
    found = re.search(r"held in (?P<program>.+?) \(PID (?P<pid>\d+)\)", message)
    return f"PID {found['pid']} ({found['program']})" if found else "another process"


def connect_from_views(catalog: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding the catalog's relations, read from the lake through its views script."""
    con = connect()
    try:
        con.execute(views_path(catalog).read_text())
    except BaseException:
        con.close()
        raise
    return con


def open_catalog(catalog: Path) -> tuple[duckdb.DuckDBPyConnection, str | None]:
    """The catalog read-only; or, while another process holds it read-write (DuckDB then refuses every other
    process), the same relations from the lake through the views script, with a sentence saying so."""
    try:
        return connect_readonly(catalog), None
    except duckdb.Error as exc:
        if not is_lock_conflict(exc):
            raise
        holder = lock_holder(str(exc))
        if not views_path(catalog).exists():
            raise CatalogLocked(
                f"{catalog} is held open read-write by {holder}, and no views script is beside it to answer "
                "from instead: close that session (or reopen it with -readonly), or run `diplo build`"
            ) from exc
        note = (f"{catalog} is held open read-write by {holder}; answering from the lake through "
                f"{views_path(catalog).name} instead (open the catalog with -readonly to share it)")
        return connect_from_views(catalog), note
