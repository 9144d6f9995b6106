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
from pathlib import Path

import duckdb
import pyarrow as pa

from diplo_pipeline.lib.axiom_schema import EVENTS_SCHEMA
from diplo_pipeline.lib.lake_schemas import KV_SCHEMA, METRIC_POINTS_SCHEMA, RUNS_SCHEMA
from diplo_pipeline.lib.sql_models import Project, define_python_marts, define_relations, quote
from diplo_pipeline.lib.sweep_defs import DEFINITIONS_SCHEMA

# The columns a raw source has before its first file is written, so every view exists from the start.
RAW_SCHEMAS: dict[str, pa.Schema] = {
    "raw_wandb__runs": RUNS_SCHEMA,
    "raw_wandb__metric_points": METRIC_POINTS_SCHEMA,
    "raw_wandb__config": KV_SCHEMA,
    "raw_wandb__summary": KV_SCHEMA,
    "raw_axiom__events": EVENTS_SCHEMA,
    "raw_sweeps__definitions": DEFINITIONS_SCHEMA,
}


def build_catalog(lake: Path, target: Path, project: Project | None = None) -> dict[str, int]:
    """Build the catalog for `lake` and publish it at `target`. Returns the row count of every relation."""
    project = project or Project.load()
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
            skipped = set(define_relations(con, project, lake, RAW_SCHEMAS))
            python_marts = define_python_marts(con, lake)
            for source in project.sources.values():
                kind = con.execute(
                    "select table_type from information_schema.tables where table_name = $n", {"n": source.name}
                ).fetchone()[0]
                con.execute(f"comment on {'view' if kind == 'VIEW' else 'table'} {source.name} is {quote(source.description)}")
            for name, model in project.models.items():
                if name not in skipped:
                    con.execute(f"comment on view {name} is {quote(model.description)}")
            for name in [*project.sources, *(m for m in project.order() if m not in skipped), *python_marts]:
                counts[name] = con.execute(f"select count(*) from {name}").fetchone()[0]
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
