"""Operating thresholds (dbt_like_sql/thresholds.yml): a value computed by SQL, compared to a limit."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

from diplo_pipeline.lib.warehouse.sql_project import SQL_ROOT

OPERATORS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "report": lambda value, threshold: True,  # informational: shows the rows, never fails
}


@dataclass(frozen=True)
class Threshold:
    name: str
    model: str
    value_sql: str
    op: str
    threshold: float
    worst_sql: str
    description: str

    def evaluate(self, con: duckdb.DuckDBPyConnection) -> tuple[bool, float | None, list[dict[str, Any]]]:
        """(passed, actual value, the rows behind it). No data at all passes: there is nothing to warn about."""
        value = con.execute(self.value_sql).fetchone()[0]
        relation = con.sql(self.worst_sql)
        worst = [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
        if value is None:
            return True, None, worst
        return OPERATORS[self.op](value, self.threshold), float(value), worst


def load_thresholds(root: Path = SQL_ROOT) -> list[Threshold]:
    spec = yaml.safe_load((root / "thresholds.yml").read_text())["thresholds"]
    return [
        Threshold(t["name"], t["model"], t["value"], t["op"], float(t["threshold"]), t["worst"], t["description"])
        for t in spec
    ]
