"""One Dagster asset per SQL model in dbt_like_sql/, described by its layer's YAML (`<layer>/_<layer>.yml`).

Dependencies are the tables each query names (parsed by DuckDB), so adding a model is adding a file and its
entry in the YAML. The asset's description and its column schema (every column with its type and meaning)
come from the YAML. Each model's data tests and threshold checks run in its own step, after the table is
written (data_tests.py, checks.py): one step a table rather than three, since each Dagster step costs more in
event-log writes and data-version lookups than most models take to compute.
"""

from __future__ import annotations

import dagster as dg

from diplo_pipeline.defs import pools
from diplo_pipeline.defs.partitions import PARTITIONS_BY_DIMENSION
from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.defs.warehouse.checks import THRESHOLD_READS, evaluate_threshold, threshold_spec, thresholds_of
from diplo_pipeline.defs.warehouse.data_tests import run_tests, test_spec, tests_in_step, tests_reading
from diplo_pipeline.defs.warehouse.project import PROJECT, asset_key, column_schema, lake_connection
from diplo_pipeline.lib.lake.duck import records
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.warehouse.partitions import present_keys
from diplo_pipeline.lib.warehouse.sql_project import SqlFile
from diplo_pipeline.lib.warehouse.sql_runner import materialize, model_path


def _model_asset(model: SqlFile) -> dg.AssetsDefinition:
    kinds = {"duckdb", "sql"} | ({"parquet"} if model.materialized == "table" else set())
    where = model.path.relative_to(PROJECT.root.parent)

    partitioned = model.partitioned_by is not None
    tests, thresholds = tests_in_step(model.name), thresholds_of(model.name)
    test_tables, test_sql = tests_reading(tests)
    check_tables = test_tables + [table for t in thresholds for table in THRESHOLD_READS[t.name]]
    check_sql = test_sql + [sql for t in thresholds for sql in (t.value_sql, t.worst_sql)]

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
        check_specs=[test_spec(test, in_its_step=True) for test in tests] + [threshold_spec(t) for t in thresholds],
    )
    def _sql_model(context, diplo: DiploData) -> dg.MaterializeResult:  # context: AssetExecutionContext
        lake = diplo.paths().lake
        keys = list(context.partition_keys) if partitioned else None
        # Unpartitioned, the checks run on this connection too: it also holds what they read.
        con = lake_connection(diplo, upstream_of=model.name, partition_keys=keys,
                              reading=None if partitioned else check_tables, running=None if partitioned else check_sql)
        try:
            present = present_keys(PROJECT, lake, model.partitioned_by, keys) if partitioned else ()
            rows = materialize(con, model, lake, keys, present)
            preview = records(con.sql(f"select * from {model.name} limit 10"))
            described = con.sql(f"describe {model.name}").fetchall()
            schema = column_schema(model.name, [(row[0], str(row[1])) for row in described])
            # After the table is written, on the whole table. Here the connection holds exactly what the checks
            # read (the model and what it is built on), unless it holds only this run's partitions.
            checks = [] if partitioned else _checks(con, diplo)
        finally:
            con.close()
        if partitioned:
            whole = lake_connection(diplo, reading=[model.name, *check_tables], running=check_sql)
            try:
                checks = _checks(whole, diplo)
            finally:
                whole.close()
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
        # A failed blocking test fails this step, so nothing downstream builds on the table in this run.
        return dg.MaterializeResult(metadata=metadata, check_results=checks)

    def _checks(con, diplo: DiploData) -> list[dg.AssetCheckResult]:
        return [*run_tests(con, diplo, model.name, tests), *(evaluate_threshold(con, t) for t in thresholds)]

    return _sql_model


sql_model_assets = [_model_asset(model) for model in PROJECT.models.values()]

# The models computed per partition: a Dagster run holding them names its partition (or range) of keys.
PARTITIONED_KEYS = frozenset(asset_key(name) for name, model in PROJECT.models.items() if model.partitioned_by)
partitioned_models = dg.AssetSelection.assets(*PARTITIONED_KEYS)
