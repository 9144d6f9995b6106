"""Reading the warehouse for reports: rows as dicts, and which tables exist yet.

Reports read a connection on which every table is a relation under its plain name (the catalog, or
`lake_connection`). Python marts (`findings`, `power_law_fits`) and table models that were never
materialised may be missing; queries on them return no rows and pages say the table is not built yet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import duckdb


@dataclass
class Warehouse:
    con: duckdb.DuckDBPyConnection
    tables: set[str] = field(init=False)

    def __post_init__(self) -> None:
        found = self.con.execute("select table_name from information_schema.tables").fetchall()
        self.tables = {name for (name,) in found}

    def has(self, *names: str) -> bool:
        return all(name in self.tables for name in names)

    def rows(self, sql: str, params: list | None = None, needs: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """The query's rows as dicts; no rows when a table it `needs` does not exist yet."""
        if not self.has(*needs):
            return []
        result = self.con.execute(sql, params or [])
        columns = [d[0] for d in result.description]
        return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]

    def one(self, sql: str, params: list | None = None, needs: tuple[str, ...] = ()) -> dict[str, Any] | None:
        found = self.rows(sql, params, needs)
        return found[0] if found else None


def parse_json(value: Any) -> Any:
    """DuckDB hands JSON columns over as text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value
