"""One Dagster asset per SQL model in dbt_like_sql/, described by its layer's YAML (`<layer>/_<layer>.yml`).

Dependencies are the tables each query names (parsed by DuckDB), so adding a model is adding a file and its
entry in the YAML. The asset's description and its column schema (every column with its type and meaning)
come from the YAML; the data tests that guard each table are in defs/warehouse/data_tests.py.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg
import duckdb

from diplo_pipeline.defs import pools
from diplo_pipeline.defs.partitions import PARTITIONS_BY_DIMENSION
from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.lib.lake.duck import connect, lake_connection_setup, records
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.warehouse.catalog import RAW_SCHEMAS
from diplo_pipeline.lib.warehouse.partitions import present_keys
from diplo_pipeline.lib.warehouse.sql_project import Project, SqlFile, SqlModelError
from diplo_pipeline.lib.warehouse.sql_runner import (
    PYTHON_MARTS,
    define_python_marts,
    define_relations,
    materialize,
    model_path,
)

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
    partitions' rows. Every macro is defined, or, when
    the SQL that will run is known (`running`, or the model's own), those it calls."""
    paths = diplo.paths()
    con = lake_connection_setup(connect())
    models = PROJECT.upstream(upstream_of)[:-1] if upstream_of else None
    if reading is not None:
        needed = {m for table in reading if table in PROJECT.models for m in PROJECT.upstream(table)}
        models = [m for m in PROJECT.order() if m in needed]
    macros_for = [PROJECT.models[upstream_of].body] if upstream_of else running
    missing = define_relations(con, PROJECT, paths.lake, RAW_SCHEMAS, models, macros_for, partition_keys, dimension)
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


def _model_asset(model: SqlFile) -> dg.AssetsDefinition:
    kinds = {"duckdb", "sql"} | ({"parquet"} if model.materialized == "table" else set())
    where = model.path.relative_to(PROJECT.root.parent)

    partitioned = model.partitioned_by is not None

    @dg.asset(
        key=asset_key(model.name),
        pool=pools.SQL,
        # One partition per run (or day): its rows are computed from its own files, and a Dagster run over
        # many keys computes them in one step (lib/warehouse/partitions.py decides which keys are out of date).
        partitions_def=PARTITIONS_BY_DIMENSION[model.partitioned_by] if partitioned else None,
        backfill_policy=dg.BackfillPolicy.single_run() if partitioned else None,
        deps=[asset_key(d) for d in model.table_names],
        group_name=model.layer,
        kinds=kinds,
        owners=["team:diplo-pipeline"],
        description=f"{model.description}\n\n`{where}` ({model.materialized}), described in "
        f"`{model.doc.path.relative_to(PROJECT.root.parent)}`",
        # Known before the first run: the columns the SQL outputs (bound over empty sources when it loads).
        metadata={"dagster/column_schema": column_schema(model.name, list(PROJECT.columns[model.name]))},
    )
    def _sql_model(context, diplo: DiploData) -> dg.MaterializeResult:  # context: AssetExecutionContext
        lake = diplo.paths().lake
        keys = list(context.partition_keys) if partitioned else None
        con = lake_connection(diplo, upstream_of=model.name, partition_keys=keys)
        try:
            present = present_keys(PROJECT, lake, model.partitioned_by, keys) if partitioned else ()
            rows = materialize(con, model, lake, keys, present)
            preview = records(con.sql(f"select * from {model.name} limit 10"))
            described = con.sql(f"describe {model.name}").fetchall()
            schema = column_schema(model.name, [(row[0], str(row[1])) for row in described])
        finally:
            con.close()
        metadata = {
            "dagster/row_count": rows,
            "dagster/column_schema": schema,
            "preview": dg.MetadataValue.md(markdown_table(preview)),
            "materialized": model.materialized,
        }
        if partitioned:
            metadata["partitions_computed"] = len(keys)
        if model.materialized == "table":
            metadata["path"] = dg.MetadataValue.path(str(model_path(diplo.paths().lake, model)))
        return dg.MaterializeResult(metadata=metadata)

    return _sql_model


sql_model_assets = [_model_asset(model) for model in PROJECT.models.values()]

# The models computed per partition: a Dagster run holding them names its partition (or range) of keys.
PARTITIONED_KEYS = frozenset(asset_key(name) for name, model in PROJECT.models.items() if model.partitioned_by)
partitioned_models = dg.AssetSelection.assets(*PARTITIONED_KEYS)
