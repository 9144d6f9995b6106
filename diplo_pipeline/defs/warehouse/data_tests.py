"""The blocking data tests, one Dagster check each: dbt_like_sql/tests/assert_*.sql and the generic tests of
the model YAML (`unique`, `not_null`, `accepted_values`; lib/warehouse/generic_tests.py).

A test is a query that must return no rows. The tests that guard one table run together, in one step over one
lake connection (a multi-asset check: one check per test, each with its own result), after the table is
built; a failure blocks what is built on that table in the same run, and its outcome is recorded for the
catalog (lib/warehouse/sql_tests.py), which serves the table at its last good version or leaves it out.
"""

import dagster as dg

from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.defs.warehouse.sql_models import PROJECT, asset_key, lake_connection
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.warehouse.sql_runner import run_test
from diplo_pipeline.lib.warehouse.sql_tests import record_outcome


def _spec(test: str) -> dg.AssetCheckSpec:
    sql_file = PROJECT.tests[test]
    target = PROJECT.test_target(test)
    named = [t for t in sql_file.table_names if t in PROJECT.models] or sql_file.table_names
    return dg.AssetCheckSpec(
        name=test,
        asset=asset_key(target),
        additional_deps=[asset_key(t) for t in named if t != target],
        blocking=True,  # a data-integrity test: downstream must not build on a broken table
        description=f"{sql_file.description} (`{sql_file.path.relative_to(PROJECT.root.parent)}`: passes with no "
        "rows)",
    )


def _table_tests(table: str) -> dg.AssetChecksDefinition:
    tests = PROJECT.tests_of(table)

    @dg.multi_asset_check(name=f"data_tests__{table}", specs=[_spec(test) for test in tests], can_subset=True)
    def _data_tests(context: dg.AssetCheckExecutionContext, diplo: DiploData):
        selected = {key.name for key in context.selected_asset_check_keys}
        con = lake_connection(diplo, reading=[t for test in tests for t in PROJECT.tests[test].table_names],
                              running=[PROJECT.tests[test].body for test in tests])
        try:
            for test in (t for t in tests if t in selected):
                count, first = run_test(con, PROJECT.tests[test])
                # For the catalog, which is published even when this fails (lib/warehouse/catalog_status.py), and
                # to keep the table's last good version when every test on it passes.
                record_outcome(diplo.paths().lake, PROJECT, test, count, first)
                yield dg.AssetCheckResult(
                    asset_key=asset_key(table),
                    check_name=test,
                    passed=count == 0,
                    metadata={"offending_rows": count, "first_rows": dg.MetadataValue.md(markdown_table(first))},
                )
        finally:
            con.close()

    return _data_tests


data_test_checks = [_table_tests(table) for table in dict.fromkeys(map(PROJECT.test_target, PROJECT.tests))]
