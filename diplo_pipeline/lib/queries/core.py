"""What every CLI question needs: a read-only connection, run and sweep names resolved, rows as dicts."""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from diplo_pipeline.lib.warehouse.catalog import CatalogLocked, open_catalog


class QueryError(Exception):
    """A question the catalog cannot answer as asked (no catalog, unknown run, malformed window, ...)."""


@dataclass(frozen=True)
class Answer:
    data: dict | list  # the whole answer: what `--format json` prints and the table view shows
    rows: list[dict]  # its main table, flat: what `--format csv` writes
    columns: list[str] | None = None  # the main table's header when known without rows (`diplo sql`)

    @classmethod
    def of_rows(cls, rows: list[dict]) -> Answer:
        return cls(rows, rows)


@dataclass(frozen=True)
class RunRef:
    run_id: str
    run_name: str


def connect(catalog: Path, notice: Callable[[str], None] = lambda _: None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the catalog, or a QueryError saying how to make one. While another process
    holds the catalog read-write, the same relations from the lake instead; `notice` hears why."""
    try:
        con, note = open_catalog(catalog)
    except (FileNotFoundError, CatalogLocked) as exc:
        raise QueryError(str(exc)) from exc
    if note:
        notice(note)
    return con


def fetch(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> list[dict]:
    cursor = con.execute(sql, params or {})
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def fetch_one(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> dict | None:
    rows = fetch(con, sql, params)
    return rows[0] if rows else None


def placeholders(prefix: str, values: Sequence, params: dict) -> str:
    """`$p0, $p1, ...` for an IN list, adding the values to params (a literal list lets DuckDB prune files)."""
    names = [f"{prefix}{i}" for i in range(len(values))]
    params.update(zip(names, values, strict=True))
    return ", ".join(f"${name}" for name in names)


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = con.execute("select count(*) from information_schema.tables where table_name = $n", {"n": name})
    return found.fetchone()[0] > 0


def unknown(kind: str, text: str, candidates: Iterable[str], where: str = "in the catalog") -> QueryError:
    """The error for a name that is not there, with the names the user most likely meant."""
    candidates = sorted(set(candidates))
    containing = [c for c in candidates if text.lower() in c.lower()]
    close = difflib.get_close_matches(text, candidates, n=5, cutoff=0.6)
    hints = list(dict.fromkeys([*containing, *close]))[:5]
    message = f"no {kind} {text!r} {where}"
    return QueryError(f"{message}; did you mean: {', '.join(hints)}" if hints else message)


def resolve_run(con: duckdb.DuckDBPyConnection, text: str) -> RunRef:
    """A run by its id or its name (an id wins if one run's id is another's name)."""
    matches = con.execute(
        "select run_id, run_name from runs where run_id = $t or run_name = $t order by run_id", {"t": text}
    ).fetchall()
    by_id = [m for m in matches if m[0] == text]
    if by_id or len(matches) == 1:
        return RunRef(*(by_id or matches)[0])
    if matches:
        ids = ", ".join(run_id for run_id, _ in matches)
        raise QueryError(f"{text!r} names {len(matches)} runs ({ids}): give the run id")
    known = con.execute("select run_id, run_name from runs").fetchall()
    raise unknown("run", text, [name for pair in known for name in pair if name])


def resolve_sweep(con: duckdb.DuckDBPyConnection, name: str) -> str:
    known = [row[0] for row in con.execute("select sweep_name from sweeps").fetchall()]
    if name in known:
        return name
    raise unknown("sweep", name, known)


def jsonable(value):
    """Plain JSON types: timestamps as ISO-8601 UTC, NaN and ±Infinity as the strings WandB writes."""
    if value is None or isinstance(value, str | int):  # most values: checked first, exports hold many
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return value
