"""A warehouse of Axiom events alone, computed in-process: the events are written as an NDJSON export, staged
and split into days as a build does (lib/axiom), and every SQL model of the real project is run over them on
one DuckDB connection (no WandB data: its sources are empty tables). For planted-truth tests of the Axiom
marts and checks that need no Dagster instance."""

from __future__ import annotations

from pathlib import Path

import duckdb

from diplo_pipeline.lib.axiom import day_partitions, staging
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.warehouse.catalog import RAW_SCHEMAS
from diplo_pipeline.lib.warehouse.sql_project import SQL_ROOT, Project
from diplo_pipeline.lib.warehouse.sql_runner import define_relations, materialize
from tests.helpers.axiom_exports import write_export


def _needed(project: Project, models: list[str]) -> set[str]:
    needed, pending = set(), list(models)
    while pending:
        name = pending.pop()
        if name in project.models and name not in needed:
            needed.add(name)
            pending.extend(project.models[name].table_names)
    return needed


def axiom_warehouse(root: Path, events: list[dict], models: list[str]) -> duckdb.DuckDBPyConnection:
    """A connection holding `models` (and what they read) computed from `events` (flat Axiom events with
    `_time`)."""
    inbox = root / "inbox"
    inbox.mkdir(parents=True)
    write_export(inbox, "events", "ndjson", events)
    paths = DataPaths(root / "data", (root / "no-wandb",), (inbox,), root / "no-sweeps")
    staging.stage_exports(paths)
    days = sorted(staging.staged_days(paths))
    day_partitions.build_days(paths, days)
    project = Project.load(SQL_ROOT)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    define_relations(con, project, paths.lake, RAW_SCHEMAS, models=[])
    needed = _needed(project, models)
    for name in (name for name in project.order() if name in needed):
        model = project.models[name]
        keys = days if model.partitioned_by == "day" else []
        materialize(con, model, paths.lake, keys, present_keys=keys)
    return con
