"""Every operating limit and threshold check of the warehouse (dbt_like_sql/thresholds.yml), in one place.

`limits` are named numbers read by everything that judges a value: the SQL models (through one macro per
limit, `limit_<name>()`, defined on every connection and in the catalog), the findings rules, the charts'
reference lines, the reports and the health rule. `thresholds` are the warning checks: a value computed by
SQL, compared to a limit.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

from diplo_pipeline.lib.lake.duck import records
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
class Limit:
    name: str
    value: float
    description: str

    @property
    def macro(self) -> str:
        """The SQL that defines it for the models: `limit_<name>()`."""
        return f"create or replace macro limit_{self.name}() as {self.value!r}::double"


@functools.cache
def _spec(root: Path) -> dict:
    path = root / "thresholds.yml"
    spec = yaml.safe_load(path.read_text()) if path.exists() else {}  # a project may have neither
    return {"limits": spec.get("limits") or {}, "thresholds": spec.get("thresholds") or []}


def load_limits(root: Path = SQL_ROOT) -> dict[str, Limit]:
    return {
        name: Limit(name, float(entry["value"]), entry["description"])
        for name, entry in _spec(root)["limits"].items()
    }


def limit(name: str, root: Path = SQL_ROOT) -> float:
    """One limit's value; an unknown name is a KeyError naming the file to add it to."""
    limits = load_limits(root)
    if name not in limits:
        raise KeyError(f"no limit {name!r} in {root / 'thresholds.yml'} (known: {', '.join(sorted(limits))})")
    return limits[name].value


def limit_macros(root: Path = SQL_ROOT) -> list[str]:
    return [entry.macro for entry in load_limits(root).values()]


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
        worst = records(con.sql(self.worst_sql))
        if value is None:
            return True, None, worst
        return OPERATORS[self.op](value, self.threshold), float(value), worst


def _threshold_value(value: Any, root: Path) -> float:
    """A check's threshold: a limit's name, or a plain number (0 failed rollouts)."""
    return limit(value, root) if isinstance(value, str) else float(value)


def load_thresholds(root: Path = SQL_ROOT) -> list[Threshold]:
    return [
        Threshold(t["name"], t["model"], t["value"], t["op"], _threshold_value(t["threshold"], root), t["worst"],
                  t["description"])
        for t in _spec(root)["thresholds"]
    ]
