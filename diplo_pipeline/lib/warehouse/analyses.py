"""Queries the CLI and the reports run, kept as `.sql` files in `dbt_like_sql/analyses/` (dbt's name for
SQL that reads the marts but is not one).

Each is one statement a person can paste into the DuckDB CLI against the catalog, with `$name` parameters
where a window or a run goes. They read the marts and share the models' rules through the macros of
`dbt_like_sql/macros/`, so an aggregate the CLI shows is the one the mart holds.
"""

from __future__ import annotations

import functools
from pathlib import Path

from diplo_pipeline.lib.warehouse.sql_root import SQL_ROOT  # not sql_project: the CLI loads no project

ANALYSES = SQL_ROOT / "analyses"


@functools.cache
def analysis(name: str, root: Path = ANALYSES) -> str:
    """The SQL of `analyses/<name>.sql` (`name` may hold a folder: `reports/run_rollouts`)."""
    path = root / f"{name}.sql"
    if not path.exists():
        raise FileNotFoundError(f"no analysis {name!r}: expected {path}")
    return path.read_text().strip().rstrip(";")
