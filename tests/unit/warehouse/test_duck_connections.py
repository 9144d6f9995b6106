"""The warehouse's DuckDB connections: bounded by the env settings, and openable beside anyone else's.

Regression: the limits were once passed as `config=` at connect time, and DuckDB refuses a second connection
to a file whose config differs from the first's ("Can't open a connection to same database file with a
different configuration"), so the CLI failed beside any other opener of the catalog in the same process.
"""

from __future__ import annotations

import duckdb
import pytest

from diplo_pipeline.lib.lake.duck import MEMORY_LIMIT_ENV, THREADS_ENV, connect, duckdb_session


def test_connection_is_bounded_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "512MB")
    monkeypatch.setenv(THREADS_ENV, "1")
    with duckdb_session() as con:
        memory, threads = con.execute(
            "select current_setting('memory_limit'), current_setting('threads')").fetchone()
    assert threads == 1
    assert memory.replace(" ", "").upper() in {"512.0MIB", "488.2MIB", "512MB", "488.2MB"}, memory


def test_opens_a_file_another_plain_connection_holds(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_ENV, "1")
    path = tmp_path / "catalog.duckdb"
    plain = duckdb.connect(str(path))
    plain.execute("create table t as select 42 as x")
    try:
        bounded = connect(path)
        assert bounded.execute("select x from t").fetchone() == (42,)
        assert bounded.execute("select current_setting('threads')").fetchone() == (1,)
        bounded.close()
    finally:
        plain.close()


def test_a_bad_memory_limit_says_what_to_give(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "lots")
    with pytest.raises(ValueError, match=r"DIPLO_DUCKDB_MEMORY_LIMIT='lots': give a size such as 2GB"):
        connect()


def test_a_bad_thread_count_says_what_to_give(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_ENV, "0")
    with pytest.raises(ValueError, match=r"DIPLO_DUCKDB_THREADS='0': give a whole number"):
        connect()
