"""The SQL project as the Dagster definitions see it: the loaded project, the asset key of every table a query
names, the in-memory lake connection an asset or check reads through, and a table's column schema.

The model assets (sql_models.py), their data tests (data_tests.py) and threshold checks (checks.py), the Python
marts and the reports all import these from here, so a table's key and how it is read are written once.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg
import duckdb

from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.lib.lake.duck import connect, lake_connection_setup
from diplo_pipeline.lib.warehouse.catalog import RAW_SCHEMAS
from diplo_pipeline.lib.warehouse.sql_project import Project, SqlModelError
from diplo_pipeline.lib.warehouse.sql_runner import PYTHON_MARTS, define_python_marts, define_relations

# Loading checks the YAML against what every model outputs: a drift fails here, when the definitions load.
PROJECT = Project.load()


def asset_key(name: str) -> dg.AssetKey:
    """The asset that produces a table a query names: a model, a Python mart, or the ingestion asset of a
    source."""
    if name in PROJECT.models:
        return dg.AssetKey([PROJECT.models[name].layer, name])
    if name in PYTHON_MARTS:
        return dg.AssetKey(["marts", name])
    return dg.AssetKey(PROJECT.sources[name].asset.split("/"))


def lake_connection(
    diplo: DiploData,
    upstream_of: str | None = None,
    reading: Iterable[str] | None = None,
    running: Iterable[str] | None = None,
    partition_keys: Iterable[str] | None = None,
    dimension: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB with sources and models under their plain names (as in the catalog): every one, or
    what model `upstream_of` is built on, or only what the tables in `reading` need (cheaper); with
    `partition_keys`, the partitioned ones (with `dimension`, those partitioned by it) hold only those
    partitions' rows. Every macro is defined, or, when the SQL that will run is known (the model's own and
    `running`), those it calls."""
    paths = diplo.paths()
    con = lake_connection_setup(connect())
    models = sources = None  # everything
    if upstream_of or reading is not None:
        # Only what the SQL to run reads (through views): every relation defined is a listing and a footer read.
        names = [*(PROJECT.models[upstream_of].table_names if upstream_of else ()), *(reading or ())]
        models, sources = PROJECT.relations_read(names)
        models = [m for m in models if m != upstream_of]  # its own step writes it
    macros_for = [PROJECT.models[upstream_of].body, *(running or ())] if upstream_of else running
    missing = define_relations(con, PROJECT, paths.lake, RAW_SCHEMAS, models, macros_for, partition_keys, dimension,
                               sources=sources)
    if not upstream_of:
        define_python_marts(con, paths.lake)
    if upstream_of and missing:
        con.close()
        raise SqlModelError(f"{PROJECT.models[upstream_of].path}: upstream models not materialised yet: "
                            f"{missing}")
    return con


def column_schema(name: str, columns: list[tuple[str, str]]) -> dg.TableSchema:
    """(column, type) pairs of `name` as the Dagster UI shows them, each with its meaning from the YAML."""
    meaning = PROJECT.docs[name].descriptions
    return dg.TableSchema(columns=[dg.TableColumn(column, kind, description=meaning.get(column))
                                   for column, kind in columns])
