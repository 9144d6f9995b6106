"""The SQL model layer: `dbt_like_sql/{staging,intermediate,marts}/*.sql` as plain DuckDB SQL.

A model's dependencies are the tables its query names, found with DuckDB's own parser
(`json_serialize_sql`), minus its CTEs: no hand-kept lists, no templating. Every model materialises as
`lake/<layer>/<model>.parquet`; inside a build, upstream models and raw sources are visible as views
under their plain names, so a model file can be pasted into the DuckDB CLI against the catalog as is.
`dbt_like_sql/tests/assert_*.sql` are data tests: a query that must return no rows.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import duckdb

LAYERS = ("staging", "intermediate", "marts")


class SqlModelError(Exception):
    """A model or test that cannot run, with the file and line that cause it."""


@dataclass(frozen=True)
class SqlFile:
    name: str
    layer: str  # staging | intermediate | marts | tests
    path: Path
    sql: str
    refs: tuple[tuple[str, int], ...]  # (table name, line) of every table the query reads

    @property
    def table_names(self) -> set[str]:
        return {name for name, _ in self.refs}


def _line_of(sql: str, offset: int | None) -> int:
    return sql.count("\n", 0, offset or 0) + 1


def _walk_refs(node: Any, ctes: set[str], out: list[tuple[str, int]]) -> None:
    if isinstance(node, dict):
        cte_map = node.get("cte_map")
        local = ctes | {entry["key"] for entry in cte_map.get("map", [])} if isinstance(cte_map, dict) else ctes
        if node.get("type") == "BASE_TABLE" and node.get("table_name") and not node.get("schema_name"):
            if node["table_name"] not in local:
                out.append((node["table_name"], node.get("query_location")))
        for value in node.values():
            _walk_refs(value, local, out)
    elif isinstance(node, list):
        for value in node:
            _walk_refs(value, ctes, out)


def parse_refs(sql: str, path: Path) -> tuple[tuple[str, int], ...]:
    """Tables the query reads, with their line numbers. Raises SqlModelError on a syntax error."""
    con = duckdb.connect()
    try:
        tree = json.loads(con.execute("select json_serialize_sql($sql)", {"sql": sql}).fetchone()[0])
    finally:
        con.close()
    if tree.get("error"):
        position = tree.get("position")
        line = _line_of(sql, int(position)) if position not in (None, "") else "?"
        raise SqlModelError(f"{path}:{line}: {tree.get('error_message')}")
    if len(tree["statements"]) != 1:
        raise SqlModelError(f"{path}: a model is exactly one SELECT statement, found {len(tree['statements'])}")
    found: list[tuple[str, int]] = []
    _walk_refs(tree["statements"][0], set(), found)
    seen: dict[str, int] = {}
    for name, location in found:
        seen.setdefault(name, _line_of(sql, location))
    return tuple(seen.items())


def load_sql_files(root: Path) -> dict[str, SqlFile]:
    """Every model of the three layers, by name. Names must be unique across layers."""
    models: dict[str, SqlFile] = {}
    for layer in LAYERS:
        for path in sorted((root / layer).glob("*.sql")):
            if path.stem in models:
                raise SqlModelError(f"{path}: model name {path.stem!r} already defined in {models[path.stem].path}")
            sql = path.read_text()
            models[path.stem] = SqlFile(path.stem, layer, path, sql, parse_refs(sql, path))
    return models


def load_tests(root: Path) -> dict[str, SqlFile]:
    tests = {}
    for path in sorted((root / "tests").glob("assert_*.sql")):
        sql = path.read_text()
        tests[path.stem] = SqlFile(path.stem, "tests", path, sql, parse_refs(sql, path))
    return tests


def check_references(files: dict[str, SqlFile], models: dict[str, SqlFile], sources: set[str]) -> None:
    """Every table a file reads must be a model or a raw source; say which file and line when not."""
    for sql_file in files.values():
        for name, line in sql_file.refs:
            if name not in models and name not in sources:
                raise SqlModelError(
                    f"{sql_file.path}:{line}: reads table {name!r}, which is neither a model in dbt_like_sql/ "
                    f"nor a source in sources.yml"
                )


def build_order(models: dict[str, SqlFile]) -> list[str]:
    graph = {name: {d for d in m.table_names if d in models} for name, m in models.items()}
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise SqlModelError(f"models depend on each other in a cycle: {' -> '.join(exc.args[1])}") from exc


def model_path(lake: Path, model: SqlFile) -> Path:
    return lake / model.layer / f"{model.name}.parquet"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def register_views(con: duckdb.DuckDBPyConnection, tables: dict[str, Path]) -> None:
    """Expose Parquet files (or globs) as views under plain names, as the catalog does."""
    for name, path in tables.items():
        con.execute(f"create or replace view {name} as select * from read_parquet({_quote(str(path))}, union_by_name = true)")


def materialize(con: duckdb.DuckDBPyConnection, model: SqlFile, target: Path) -> int:
    """Run a model and write its Parquet atomically. Returns the row count."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        try:
            con.execute(f"copy ({model.sql.rstrip().rstrip(';')}) to {_quote(tmp)} (format parquet, compression zstd)")
        except duckdb.Error as exc:
            raise SqlModelError(f"{model.path}: {exc}") from exc
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return con.execute(f"select count(*) from read_parquet({_quote(str(target))})").fetchone()[0]
