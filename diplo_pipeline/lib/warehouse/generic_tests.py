"""The generic data tests of the model YAML (`unique`, `not_null`, `accepted_values`) as SQL data tests.

Each becomes a query that must return no rows, exactly like a hand-written `dbt_like_sql/tests/assert_*.sql`:
the same blocking Dagster check runs it, the same outcome file records its offending rows for the catalog
(lib/warehouse/sql_tests.py). Its rows say which rows offend: a duplicated key with its number of copies,
or the table's key (its first `unique` test) beside the offending value. As in dbt, `accepted_values` lets
NULL pass (whether a column may be NULL is what `not_null` says).
"""

from __future__ import annotations

from typing import Any

from diplo_pipeline.lib.warehouse.model_docs import DataTest, TableDoc
from diplo_pipeline.lib.warehouse.sql_project import SqlFile, SqlModelError


def _column(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _shown(test: DataTest, doc: TableDoc) -> str:
    """The columns an offending row is shown with: the table's key, then the tested column."""
    key = next((t.columns for t in doc.tests if t.kind == "unique"), ())
    shown = [*key, *(c for c in test.columns if c not in key)]
    return "*" if list(test.columns) == shown else ", ".join(_column(c) for c in shown)


def test_sql(test: DataTest, doc: TableDoc) -> str:
    """The query (its first line a comment saying what it promises) that returns the offending rows."""
    source = doc.path.relative_to(doc.path.parents[1])
    columns = ", ".join(_column(c) for c in test.columns)
    if test.kind == "unique":
        what = f"{test.columns[0]} is unique" if len(test.columns) == 1 else f"({', '.join(test.columns)}) is unique"
        return (f"-- {test.table}: {what} (generated from {source}).\n"
                f"select {columns}, count(*) as copies\nfrom {test.table}\ngroup by {columns}\nhaving count(*) > 1\n")
    column = _column(test.columns[0])
    if test.kind == "not_null":
        return (f"-- {test.table}: {test.columns[0]} is never NULL (generated from {source}).\n"
                f"select {_shown(test, doc)}\nfrom {test.table}\nwhere {column} is null\n")
    values = ", ".join(_literal(v) for v in test.values)
    return (f"-- {test.table}: {test.columns[0]} is one of {values}, or NULL (generated from {source}).\n"
            f"select {_shown(test, doc)}\nfrom {test.table}\nwhere {column} not in ({values})\n")


def generic_tests(docs: dict[str, TableDoc]) -> dict[str, SqlFile]:
    """Every data test the YAML declares, as a data test file named for what it tests."""
    found = {}
    for doc in docs.values():
        for test in doc.tests:
            if test.name in found:
                raise SqlModelError(f"{doc.path}: {doc.name}: the data test {test.name} is declared twice")
            found[test.name] = SqlFile(test.name, "tests", doc.path, test_sql(test, doc), ((test.table, 1),))
    return found
