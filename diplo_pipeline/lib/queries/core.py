"""What every CLI question needs: a read-only connection, run and sweep names resolved, and the rows of
an analysis (`dbt_like_sql/analyses/<name>.sql`) as dicts."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from diplo_pipeline.lib.lake.duck import duckdb_session, records
from diplo_pipeline.lib.warehouse.analyses import analysis
from diplo_pipeline.lib.warehouse.catalog_reader import CatalogLocked, open_catalog


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


def fetch(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None) -> list[dict]:
    """The rows of the analysis `dbt_like_sql/analyses/<name>.sql`, run with its `$name` parameters."""
    return records(con.sql(analysis(name), params=params or {}))


def fetch_one(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None) -> dict | None:
    rows = fetch(con, name, params)
    return rows[0] if rows else None


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return fetch_one(con, "cli/table_exists", {"table_name": name})["present"]


def select_columns(name: str) -> list[str]:
    """The columns an analysis selects, by DuckDB's own parser (so a header is known without a catalog)."""
    with duckdb_session() as con:
        tree = json.loads(con.execute("select json_serialize_sql($sql)", {"sql": analysis(name)}).fetchone()[0])
    node = tree["statements"][0]["node"]
    return [item["alias"] or item["column_names"][-1] for item in node["select_list"]]


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
    matches = [RunRef(**row) for row in fetch(con, "cli/runs_named", {"text": text})]
    by_id = [m for m in matches if m.run_id == text]
    if by_id or len(matches) == 1:
        return (by_id or matches)[0]
    if matches:
        ids = ", ".join(match.run_id for match in matches)
        raise QueryError(f"{text!r} names {len(matches)} runs ({ids}): give the run id")
    known = fetch(con, "cli/run_names")
    raise unknown("run", text, [name for run in known for name in (run["run_id"], run["run_name"]) if name])


def resolve_sweep(con: duckdb.DuckDBPyConnection, name: str) -> str:
    known = [row["sweep_name"] for row in fetch(con, "cli/sweep_names")]
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
