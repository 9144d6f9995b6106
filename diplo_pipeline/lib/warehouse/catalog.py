"""The DuckDB catalog: views over the Parquet lake, published by atomic rename.

DuckDB lets one process write a database file and then blocks every other process, readers included.
So the catalog is never written in place: it is built in a temp file beside the target, checkpointed,
closed, and renamed over `warehouse.duckdb`. A person with the old file open keeps their snapshot, new
readers see the new file, and a build never waits for anyone. Views use absolute paths because relative
paths would resolve against each reader's working directory.

What each relation serves (its current version, its last good one, or nothing, and why) is decided by
lib/warehouse/catalog_status.py and published with it as the `catalog_status` table. Beside the catalog goes
`warehouse.duckdb.views.sql`, the same relations as a SQL script over the lake: when someone holds the
catalog open read-write (so no other process may open it), lib/queries answers through that script in an
in-memory DuckDB instead.

Reading the catalog (read-only, or through that script) is lib/warehouse/catalog_reader.py, which imports
neither pyarrow nor the SQL project: a `diplo` query pays for DuckDB alone.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from diplo_pipeline.lib.axiom.schema import EVENTS_SCHEMA
from diplo_pipeline.lib.lake.duck import connect, lake_connection_setup
from diplo_pipeline.lib.lake.io import write_text_atomic
from diplo_pipeline.lib.lake.object_store import ObjectPath
from diplo_pipeline.lib.sweeps.definitions import DEFINITIONS_SCHEMA
from diplo_pipeline.lib.wandb.schemas import (
    ARTIFACTS_SCHEMA,
    KV_SCHEMA,
    MEDIA_SCHEMA,
    METRIC_POINTS_SCHEMA,
    RUNS_SCHEMA,
    TABLES_SCHEMA,
)
from diplo_pipeline.lib.warehouse.catalog_reader import views_path
from diplo_pipeline.lib.warehouse.catalog_status import RelationStatus, plan_catalog, status_table
from diplo_pipeline.lib.warehouse.catalog_versions import VersionPinner, publish
from diplo_pipeline.lib.warehouse.sql_project import Project
from diplo_pipeline.lib.warehouse.sql_runner import Pin, define_relations, quote, table_relation
from diplo_pipeline.lib.warehouse.thresholds import limit

# The columns a raw source has before its first file is written, so every view exists from the start.
RAW_SCHEMAS: dict[str, pa.Schema] = {
    "raw_wandb__runs": RUNS_SCHEMA,
    "raw_wandb__metric_points": METRIC_POINTS_SCHEMA,
    "raw_wandb__config": KV_SCHEMA,
    "raw_wandb__summary": KV_SCHEMA,
    "raw_wandb__artifacts": ARTIFACTS_SCHEMA,
    "raw_wandb__tables": TABLES_SCHEMA,
    "raw_wandb__media": MEDIA_SCHEMA,
    "raw_axiom__events": EVENTS_SCHEMA,
    "raw_sweeps__definitions": DEFINITIONS_SCHEMA,
}
STATUS_TABLE = "catalog_status"
STATUS_DESCRIPTION = (
    "What the catalog serves for each relation (current, last_good, previous, left_out) and why: the data "
    "test that failed, how many rows it found and the first of them."
)


@dataclass(frozen=True)
class PublishedCatalog:
    counts: dict[str, int]  # rows of every relation the catalog holds
    plan: dict[str, RelationStatus]  # what each relation serves, and why
    published: ObjectPath | None = None  # the immutable catalog object, when the lake is in a bucket


def _define(con: duckdb.DuckDBPyConnection, project: Project, lake: Path, plan: dict[str, RelationStatus],
            pin: Pin = None) -> None:
    define_relations(con, project, lake, RAW_SCHEMAS, models=[], pin=pin)  # the sources
    for name in project.sources:
        if not plan[name].in_catalog:
            kind = con.execute("select table_type from information_schema.tables where table_name = $n",
                               {"n": name}).fetchone()[0]
            con.execute(f"drop {'view' if kind == 'VIEW' else 'table'} {name}")
    for name, status in plan.items():
        if name in project.sources or not status.in_catalog:
            continue
        model = project.models.get(name)
        if model is not None and model.materialized == "view":
            con.execute(f"create view {name} as {model.body}")
        else:
            relation = table_relation(status.path, project.columns.get(name, ()), pin)
            con.execute(f"create view {name} as {relation}")
    con.register("status_rows", status_table(plan))
    con.execute(f"create table {STATUS_TABLE} as select * from status_rows")
    con.unregister("status_rows")


def _describe(con: duckdb.DuckDBPyConnection, project: Project, plan: dict[str, RelationStatus]) -> None:
    descriptions = {**{n: s.description for n, s in project.sources.items()},
                    **{n: m.description for n, m in project.models.items()}}
    kinds = dict(con.execute("select table_name, table_type from information_schema.tables").fetchall())
    for name, status in plan.items():
        if status.in_catalog and descriptions.get(name):
            kind = "table" if kinds[name] == "BASE TABLE" else "view"
            con.execute(f"comment on {kind} {name} is {quote(descriptions[name])}")
    con.execute(f"comment on table {STATUS_TABLE} is {quote(STATUS_DESCRIPTION)}")


def _literal(value) -> str:
    if value is None:
        return "NULL"
    return str(value) if isinstance(value, int) else quote(str(value))


def views_script(con: duckdb.DuckDBPyConnection, macros: tuple[str, ...] = ()) -> str:
    """The macros, then every relation of `con` as SQL, in the order it was created (each after what it reads)."""
    objects = con.execute("""
        select oid, name, sql, comment, kind from (
            select table_oid as oid, table_name as name, sql, comment, 'table' as kind
            from duckdb_tables() where not temporary
            union all
            select view_oid, view_name, sql, comment, 'view' from duckdb_views() where not internal and not temporary
        ) order by oid
    """).fetchall()
    lines = ["-- Written by diplo-pipeline with the catalog: its relations over the lake (absolute paths).",
             "-- Used when the catalog is held open read-write elsewhere; `.read` it in the DuckDB CLI too.",
             "SET TimeZone = 'UTC';", *(f"{statement};" for statement in macros)]
    for _, name, sql, comment, kind in objects:
        lines.append(sql)
        if kind == "table":
            for row in con.execute(f"select * from {name}").fetchall():
                lines.append(f"INSERT INTO {name} VALUES ({', '.join(_literal(v) for v in row)});")
        if comment:
            lines.append(f"COMMENT ON {kind.upper()} {name} IS {quote(comment)};")
    return "\n".join(lines) + "\n"


def build_catalog(lake: Path, target: Path, project: Project | None = None,
                  store_root: ObjectPath | None = None) -> PublishedCatalog:
    """Build the catalog for `lake` and publish it at `target`, with its views script beside it. With the lake
    in a bucket, the views read pinned versions of the files and the catalog is published to `store_root`
    too (lib/warehouse/catalog_versions.py)."""
    project = project or Project.load()
    plan = plan_catalog(project, lake)
    pinner = VersionPinner(lake) if isinstance(lake, ObjectPath) else None
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".building", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # DuckDB must create the file itself
    try:
        con = lake_connection_setup(connect(tmp))
        try:
            _define(con, project, lake, plan, pinner)
            _describe(con, project, plan)
            counts = {name: con.execute(f"select count(*) from {name}").fetchone()[0]
                      for name, status in plan.items() if status.in_catalog}
            script = views_script(con, project.macros)
            con.execute("checkpoint")
        finally:
            con.close()
        # The script first: a catalog is never published without the script that stands in for it.
        write_text_atomic(script, views_path(target))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    if pinner is None:
        return PublishedCatalog(counts, plan)
    keep = int(limit("catalog_versions_kept"))
    return PublishedCatalog(counts, plan, publish(store_root or lake.parent, target, pinner, keep))
