"""The DuckDB catalog: views over the Parquet lake, published by atomic rename.

DuckDB lets one process write a database file and then blocks every other process, readers included.
So the catalog is never written in place: it is built in a temp file beside the target, checkpointed,
closed, and renamed over `warehouse.duckdb`. A person with the old file open keeps their snapshot, new
readers see the new file, and a build never waits for anyone. Views use absolute paths because relative
paths would resolve against each reader's working directory.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from diplo_pipeline.lib.axiom_schema import EVENTS_SCHEMA
from diplo_pipeline.lib.wandb_runs import KV_SCHEMA, METRIC_POINTS_SCHEMA, RUNS_SCHEMA

SQL_ROOT = Path(__file__).resolve().parents[2] / "dbt_like_sql"


@dataclass(frozen=True)
class LakeTable:
    name: str  # the name users query
    folder: str  # under the lake root
    schema: pa.Schema  # used when the lake has no file yet, so the view exists with the right columns
    description: str


RAW_TABLES = (
    LakeTable("runs", "raw/wandb/runs", RUNS_SCHEMA, "One row per WandB run."),
    LakeTable("metric_points", "raw/wandb/metric_points", METRIC_POINTS_SCHEMA, "Every logged value, long."),
    LakeTable("run_config", "raw/wandb/config", KV_SCHEMA, "Run config, one row per (flattened) key."),
    LakeTable("run_summary", "raw/wandb/summary", KV_SCHEMA, "Run summary, one row per key."),
    LakeTable("axiom_events", "raw/axiom/events", EVENTS_SCHEMA, "Every Axiom event, deduplicated."),
)


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _source_sql(lake: Path, table: LakeTable) -> str | None:
    folder = lake / table.folder
    if not any(folder.glob("*.parquet")):
        return None
    return f"select * from read_parquet({_sql_literal(str(folder / '*.parquet'))}, union_by_name = true)"


def view_models() -> list[tuple[str, str]]:
    """(name, sql) of the SQL models the catalog exposes as views, in dependency order of their folder."""
    models = []
    for layer in ("staging", "intermediate", "marts"):
        for path in sorted((SQL_ROOT / layer).glob("*.sql")):
            models.append((path.stem, path.read_text()))
    return models


def build_catalog(lake: Path, target: Path) -> dict[str, int]:
    """Build the catalog for `lake` and publish it at `target`. Returns the row count of every view."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".building", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # DuckDB must create the file itself
    counts: dict[str, int] = {}
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute("set TimeZone = 'UTC'")
            for table in RAW_TABLES:
                sql = _source_sql(lake.resolve(), table)
                if sql is None:
                    empty = table.schema.empty_table()  # noqa: F841 - referenced by name below
                    con.execute(f"create table {table.name} as select * from empty")
                else:
                    con.execute(f"create view {table.name} as {sql}")
                con.execute(f"comment on {'view' if sql else 'table'} {table.name} is {_sql_literal(table.description)}")
            for name, sql in view_models():
                con.execute(f"create view {name} as {sql}")
            for table in [t.name for t in RAW_TABLES] + [name for name, _ in view_models()]:
                counts[table] = con.execute(f"select count(*) from {table}").fetchone()[0]
            con.execute("checkpoint")
        finally:
            con.close()
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return counts


def connect_readonly(catalog: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection: never blocks a build (the build never writes this file in place)."""
    if not catalog.exists():
        raise FileNotFoundError(f"no catalog at {catalog}: run `diplo build` (or `make demo`) first")
    con = duckdb.connect(str(catalog), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    return con
