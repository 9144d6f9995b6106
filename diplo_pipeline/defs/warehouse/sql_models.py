"""One Dagster asset per SQL model in dbt_like_sql/, one asset check per dbt_like_sql/tests/assert_*.sql.

Dependencies are the tables each query names (parsed by DuckDB), so adding a model is adding a file.
"""

from __future__ import annotations

import dagster as dg
import duckdb

from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.warehouse.catalog import RAW_SCHEMAS
from diplo_pipeline.lib.warehouse.sql_project import Project, SqlFile, SqlModelError
from diplo_pipeline.lib.warehouse.sql_runner import (
    define_python_marts,
    define_relations,
    materialize,
    model_path,
    run_test,
)
from diplo_pipeline.lib.warehouse.sql_tests import record_outcome

PROJECT = Project.load()


def asset_key(name: str) -> dg.AssetKey:
    """The asset that produces a table a query names: a model, or the ingestion asset of a source."""
    if name in PROJECT.models:
        return dg.AssetKey([PROJECT.models[name].layer, name])
    return dg.AssetKey(PROJECT.sources[name].asset.split("/"))


def lake_connection(diplo: DiploData, upstream_of: str | None = None) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB with sources and models under their plain names (as in the catalog)."""
    paths = diplo.paths()
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    models = PROJECT.upstream(upstream_of)[:-1] if upstream_of else None
    missing = define_relations(con, PROJECT, paths.lake, RAW_SCHEMAS, models)
    if not upstream_of:
        define_python_marts(con, paths.lake)
    if upstream_of and missing:
        con.close()
        raise SqlModelError(f"{PROJECT.models[upstream_of].path}: upstream models not materialised yet: {missing}")
    return con


def _column_schema(con: duckdb.DuckDBPyConnection, name: str) -> dg.TableSchema:
    rows = con.execute(f"describe {name}").fetchall()
    return dg.TableSchema(columns=[dg.TableColumn(name=r[0], type=str(r[1])) for r in rows])


def _model_asset(model: SqlFile) -> dg.AssetsDefinition:
    kinds = {"duckdb", "sql"} | ({"parquet"} if model.materialized == "table" else set())

    @dg.asset(
        key=asset_key(model.name),
        deps=[asset_key(d) for d in model.table_names],
        group_name=model.layer,
        kinds=kinds,
        owners=["team:diplo-pipeline"],
        description=f"{model.description}\n\n`{model.path.relative_to(PROJECT.root.parent)}` "
        f"({model.materialized})",
    )
    def _sql_model(diplo: DiploData) -> dg.MaterializeResult:
        con = lake_connection(diplo, upstream_of=model.name)
        try:
            rows = materialize(con, model, diplo.paths().lake)
            relation = con.sql(f"select * from {model.name} limit 10")
            preview = [dict(zip(relation.columns, r, strict=True)) for r in relation.fetchall()]
            schema = _column_schema(con, model.name)
        finally:
            con.close()
        metadata = {
            "dagster/row_count": rows,
            "dagster/column_schema": schema,
            "preview": dg.MetadataValue.md(markdown_table(preview)),
            "materialized": model.materialized,
        }
        if model.materialized == "table":
            metadata["path"] = dg.MetadataValue.path(str(model_path(diplo.paths().lake, model)))
        return dg.MaterializeResult(metadata=metadata)

    return _sql_model


def _test_check(test: SqlFile) -> dg.AssetChecksDefinition:
    target = PROJECT.test_target(test.name)
    named = [t for t in test.table_names if t in PROJECT.models] or test.table_names

    @dg.asset_check(
        asset=asset_key(target),
        name=test.name,
        additional_deps=[asset_key(t) for t in named if t != target],
        blocking=True,  # a data-integrity test: downstream must not build on a broken table
        description=f"{test.description} (`{test.path.relative_to(PROJECT.root.parent)}`: passes with no rows)",
    )
    def _sql_test(diplo: DiploData) -> dg.AssetCheckResult:
        con = lake_connection(diplo)
        try:
            count, first = run_test(con, test)
        finally:
            con.close()
        # For the catalog, which is published even when this fails (lib/warehouse/catalog_status.py), and to keep the
        # table's last good version when every test on it passes.
        record_outcome(diplo.paths().lake, PROJECT, test.name, count, first)
        return dg.AssetCheckResult(
            passed=count == 0,
            metadata={"offending_rows": count, "first_rows": dg.MetadataValue.md(markdown_table(first))},
        )

    return _sql_test


sql_model_assets = [_model_asset(model) for model in PROJECT.models.values()]
sql_test_checks = [_test_check(test) for test in PROJECT.tests.values()]
