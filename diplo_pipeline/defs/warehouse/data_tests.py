"""The blocking data tests: dbt_like_sql/tests/assert_*.sql and the generic tests of the model YAML (`unique`,
`not_null`, `accepted_values`; lib/warehouse/generic_tests.py), one Dagster check each.

A test is a query that must return no rows. The tests that guard one table run together over one lake
connection, after the table is written: a SQL model runs its own in its step (its check specs,
sql_models.py), a Python mart's run as a multi-asset check of their own here. A failure blocks what is built
on that table in the same run, and its outcome is recorded for the catalog (lib/warehouse/sql_tests.py),
which serves the table at its last good version or leaves it out.
"""

from collections.abc import Iterable

import dagster as dg
import duckdb

from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.defs.warehouse.project import PROJECT, asset_key, lake_connection
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.warehouse.sql_runner import run_test
from diplo_pipeline.lib.warehouse.sql_tests import record_outcomes


def test_spec(test: str, in_its_step: bool = False) -> dg.AssetCheckSpec:
    """The check of one data test. `in_its_step`: run by the table's own asset, which already comes after
    every table the test reads (a model's tests read only what it is built on), so it names no other deps."""
    sql_file = PROJECT.tests[test]
    target = PROJECT.test_target(test)
    named = [t for t in sql_file.table_names if t in PROJECT.models] or sql_file.table_names
    return dg.AssetCheckSpec(
        name=test,
        asset=asset_key(target),
        additional_deps=[] if in_its_step else [asset_key(t) for t in named if t != target],
        blocking=True,  # a data-integrity test: downstream must not build on a broken table
        description=f"{sql_file.description} (`{sql_file.path.relative_to(PROJECT.root.parent)}`: passes with no "
        "rows)",
    )


def tests_reading(tests: Iterable[str]) -> tuple[list[str], list[str]]:
    """The tables `tests` read and their SQL: what a connection running them must hold."""
    files = [PROJECT.tests[test] for test in tests]
    return [t for f in files for t in f.table_names], [f.body for f in files]


def run_tests(con: duckdb.DuckDBPyConnection, diplo: DiploData, table: str,
              tests: Iterable[str]) -> list[dg.AssetCheckResult]:
    """Each of `tests` (data tests of `table`) on `con`, which holds what they read (`tests_reading`)."""
    found = [(test, *run_test(con, PROJECT.tests[test])) for test in tests]
    # For the catalog, which is published even when a test fails (lib/warehouse/catalog_status.py), and to
    # keep the table's last good version when every test on it passes.
    record_outcomes(diplo.paths().lake, PROJECT, table, found)
    return [dg.AssetCheckResult(
        asset_key=asset_key(table),
        check_name=test,
        passed=count == 0,
        metadata={"offending_rows": count, "first_rows": dg.MetadataValue.md(markdown_table(first))},
    ) for test, count, first in found]


def tests_in_step(table: str) -> list[str]:
    """The data tests a SQL model runs in its own step: each reads only the model and what it is built on."""
    if table not in PROJECT.models:
        return []
    built_on = PROJECT.built_on(table)
    return [test for test in PROJECT.tests_of(table) if set(PROJECT.tests[test].table_names) <= built_on]


def _table_tests(table: str, tests: list[str]) -> dg.AssetChecksDefinition:
    @dg.multi_asset_check(name=f"data_tests__{table}", specs=[test_spec(test) for test in tests], can_subset=True)
    def _data_tests(context: dg.AssetCheckExecutionContext, diplo: DiploData):
        selected = [test for test in tests if test in {key.name for key in context.selected_asset_check_keys}]
        reading, running = tests_reading(selected)
        con = lake_connection(diplo, reading=reading, running=running)
        try:
            yield from run_tests(con, diplo, table, selected)
        finally:
            con.close()

    return _data_tests


def _tests_of_their_own(table: str) -> list[str]:
    in_step = set(tests_in_step(table))
    return [test for test in PROJECT.tests_of(table) if test not in in_step]


# The SQL models run their tests in their own step; the tables written in Python (findings, fits) here.
data_test_checks = [_table_tests(table, tests) for table in dict.fromkeys(map(PROJECT.test_target, PROJECT.tests))
                    if (tests := _tests_of_their_own(table))]
