"""Reading the warehouse for reports: the queries of `dbt_like_sql/analyses/reports/`, rows as dicts, and
which tables exist yet.

Reports read a connection on which every table is a relation under its plain name (the catalog, or
`lake_connection`). Python marts (`findings`, `power_law_fits`) and table models that were never
materialised may be missing; queries on them return no rows and pages say the table is not built yet.
Every query is a `.sql` file a person can paste into the DuckDB CLI, with `$name` parameters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from diplo_pipeline.lib.lake.duck import records
from diplo_pipeline.lib.warehouse.analyses import analysis

DEFAULT_X_METRIC = "power_law/cumulative_simulated_years"
DEFAULT_METRIC = "power_law/reward_at_compute"


@dataclass
class Warehouse:
    con: duckdb.DuckDBPyConnection
    tables: set[str] = field(init=False)

    def __post_init__(self) -> None:
        self.tables = {row["table_name"] for row in records(self.con.sql(analysis("reports/tables")))}

    def has(self, *names: str) -> bool:
        return all(name in self.tables for name in names)

    def rows(self, query: str, needs: tuple[str, ...] = (), **params: Any) -> list[dict[str, Any]]:
        """The rows of `analyses/reports/<query>.sql` (or of `analyses/<query>.sql` when it names its folder, e.g.
        `cli/health_hours`, a question a page shares with the CLI) with these `$name` parameters; no rows when a
        table it `needs` does not exist yet."""
        if not self.has(*needs):
            return []
        # execute, not the relation API: a page asks a dozen of these per run, and building a relation first
        # doubles each one's cost (1.4 ms against 3.1 ms measured for `run_elo_gap`)
        cursor = self.con.execute(analysis(query if "/" in query else f"reports/{query}"), params or None)
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def one(self, query: str, needs: tuple[str, ...] = (), **params: Any) -> dict[str, Any] | None:
        found = self.rows(query, needs, **params)
        return found[0] if found else None


def parse_json(value: Any) -> Any:
    """DuckDB hands JSON columns over as text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


# --- Read by more than one page -----------------------------------------------------------------------


def findings_for(wh: Warehouse, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The findings of these runs, worst first."""
    return wh.rows("findings", needs=("findings",), run_ids=list(run_ids))


def _with_params(fits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for fit in fits:
        fit["params"] = parse_json(fit.get("params")) or {}
    return fits


def run_fits(wh: Warehouse, run_id: str) -> list[dict[str, Any]]:
    """Every power-law fit a run's points went into: its own, its tags', its sweep's."""
    return _with_params(wh.rows("run_fits", needs=("power_law_fits",), run_id=run_id))


def sweep_fits(wh: Warehouse, sweep_name: str) -> list[dict[str, Any]]:
    return _with_params(wh.rows("sweep_fits", needs=("power_law_fits",), sweep_name=sweep_name))


def fit_points(wh: Warehouse, run_ids: Sequence[str], x_metric: str, metric: str) -> list[dict[str, Any]]:
    """(series = run name, step, x, y) of every run behind a fit, paired as the power_law_fits mart pairs them."""
    return wh.rows(
        "fit_points", needs=("metric_points", "runs"), x_metric=x_metric, metric=metric, run_ids=list(run_ids)
    )
