"""DuckDB connections as the warehouse uses them: bounded memory and threads, UTC, no progress bar, closed
when done.

Every connection the pipeline opens goes through `connect`, so each is bounded by `DIPLO_DUCKDB_MEMORY_LIMIT`
and `DIPLO_DUCKDB_THREADS` (DuckDB's own defaults are 80 % of the machine's memory and every core, per
connection: a build holding a few connections at once, beside Dagster, could ask for several times the
machine). A query that needs more than the limit spills to disk where it can, or fails saying so.
With the lake in a bucket (DIPLO_LAKE_URL), every warehouse connection also loads httpfs from its PyPI
package and an S3 secret from the AWS_* variables (`lake_connection_setup`).
A connection left open holds memory and, on a database file, its lock; every short-lived connection goes
through `duckdb_session` so none is forgotten.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from diplo_pipeline.lib.lake.object_store import S3Settings, lake_url_from_env

MEMORY_LIMIT_ENV, THREADS_ENV = "DIPLO_DUCKDB_MEMORY_LIMIT", "DIPLO_DUCKDB_THREADS"
DEFAULT_MEMORY_LIMIT = "2GB"  # the goal for the whole build at 200 runs × 500 steps + 5 M events
MAX_DEFAULT_THREADS = 4  # more buys little on the lake's small files, and a shared machine has other work


def connection_config() -> dict[str, str]:
    """DuckDB's `memory_limit` and `threads` from the environment, or their defaults here."""
    threads = os.environ.get(THREADS_ENV) or str(min(os.cpu_count() or 1, MAX_DEFAULT_THREADS))
    if not threads.isdigit() or int(threads) < 1:
        raise ValueError(f"{THREADS_ENV}={threads!r}: give a whole number of threads, at least 1")
    return {"memory_limit": os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT, "threads": threads}


def connect(database: str | Path = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection bounded by the memory and thread settings (see the module's docstring)."""
    config = connection_config()
    # Set after connecting, not through `config=`: DuckDB shares one database instance per file within a
    # process and refuses a second connection whose `config` differs from the first's, so any other opener
    # of the catalog (a notebook, a test, the CLI beside a build) would fail. Both settings are the
    # instance's, so setting them here bounds every connection to it alike.
    con = duckdb.connect(str(database), read_only=read_only)
    try:
        con.execute(f"set memory_limit = '{config['memory_limit']}'")
        con.execute(f"set threads = {config['threads']}")
    except (duckdb.InvalidInputException, duckdb.ParserException) as exc:
        con.close()
        raise ValueError(f"{MEMORY_LIMIT_ENV}={os.environ.get(MEMORY_LIMIT_ENV)!r}: give a size such as "
                         f"2GB or 512MB ({exc})") from exc
    return con


def httpfs_extension() -> Path:
    """The httpfs extension shipped by the PyPI package `duckdb-extension-httpfs` (of DuckDB's exact release):
    DuckDB would download it at run time, which these machines and many clusters do not allow."""
    spec = importlib.util.find_spec("duckdb_extension_httpfs")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the lake is in a bucket but duckdb-extension-httpfs is not installed: "
                           f"pip install duckdb-extension-httpfs=={duckdb.__version__}")
    path = Path(next(iter(spec.submodule_search_locations))) / "extensions" / f"v{duckdb.__version__}"
    return path / "httpfs.duckdb_extension"


def s3_secret_sql(settings: S3Settings, credentials_from_env: bool = False) -> str:
    """DuckDB's S3 secret from the AWS_* variables; with an endpoint (MinIO, moto, GCS interop), path-style
    URLs and the endpoint's scheme. `credentials_from_env`: the key as `getenv(...)` calls, for a recipe the
    DuckDB CLI runs with its user's own variables (so nothing secret is printed)."""
    q = _quote
    options = [f"REGION {q(settings.region)}"]
    if credentials_from_env:
        options += ["KEY_ID getenv('AWS_ACCESS_KEY_ID')", "SECRET getenv('AWS_SECRET_ACCESS_KEY')"]
    elif settings.key_id:
        options += [f"KEY_ID {q(settings.key_id)}", f"SECRET {q(settings.secret or '')}"]
    if settings.endpoint_host:
        options += [f"ENDPOINT {q(settings.endpoint_host)}", "URL_STYLE 'path'",
                    f"USE_SSL {'true' if settings.uses_ssl else 'false'}"]
    return f"CREATE OR REPLACE SECRET diplo_lake (TYPE s3, {', '.join(options)})"


def use_object_storage(con: duckdb.DuckDBPyConnection, *, force: bool = False) -> bool:
    """Let `con` read and write `s3://` URLs when the lake is in a bucket (DIPLO_LAKE_URL), or when `force`d:
    httpfs from its package and a secret from the AWS_* variables. Returns whether it did."""
    if not force and not lake_url_from_env():
        return False
    con.execute(f"LOAD {_quote(str(httpfs_extension()))}")
    con.execute(s3_secret_sql(S3Settings.from_env()))
    return True


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def lake_connection_setup(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The settings every warehouse connection has: times in UTC, no progress bar, the lake's storage."""
    con.execute("set TimeZone = 'UTC'")
    con.execute("set enable_progress_bar = false")
    use_object_storage(con)
    return con


@contextlib.contextmanager
def duckdb_session(
    database: str | Path = ":memory:", *, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection set up the warehouse's way (bounded, times in UTC), closed on exit."""
    con = connect(database, read_only=read_only)
    try:
        lake_connection_setup(con)
        yield con
    finally:
        con.close()


def records(relation: duckdb.DuckDBPyRelation) -> list[dict[str, Any]]:
    """A relation's rows as dicts keyed by column name."""
    columns = relation.columns
    return [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]
