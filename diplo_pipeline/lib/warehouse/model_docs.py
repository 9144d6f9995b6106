"""The model YAML, `dbt_like_sql/<layer>/_<layer>.yml`: what each model and column means, and its data tests.

As in dbt (dbt-labs/jaffle-shop), each layer's YAML holds, per model, its description, every column with
its meaning, and the data tests its columns promise:

    models:
      - name: run_steps
        description: One row per (run_id, step) of training rows ...
        data_tests:
          - unique: {columns: [run_id, step]}        # a combination key: a table-level test
        columns:
          - name: run_id
            description: The WandB run id.
            data_tests: [not_null]
          - name: state
            description: ...
            data_tests:
              - accepted_values: {values: [finished, crashed]}
          - timestamp                                # a bare name: described where it is read from

A column given by its bare name (or without a description) takes the description of the column of the same
name in the first relation the model reads that documents one, so a pass-through view does not repeat its
source's text. The Dagster column metadata, the generic data tests (lib/warehouse/generic_tests.py) and the
contract test are generated from these files; lib/warehouse/model_columns.py checks them against what the
SQL really outputs, so they cannot drift.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from diplo_pipeline.lib.warehouse.sql_project import LAYERS, PARTITION_KEYS, SqlModelError

TEST_KINDS = ("unique", "not_null", "accepted_values")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's safe loader: the same result, much faster
_MODEL_KEYS = {"name", "description", "columns", "data_tests", "partitioned_by", "partition_column"}
_COLUMN_KEYS = {"name", "description", "data_tests"}


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    description: str | None  # None until inherited from a relation the model reads (see the module doc)
    inherited_from: str | None = None


@dataclass(frozen=True)
class DataTest:
    """A generic data test: `unique` (one column, or a combination), `not_null` or `accepted_values`."""

    kind: str
    table: str
    columns: tuple[str, ...]
    values: tuple[Any, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.kind}_{self.table}_{'__'.join(self.columns)}"


@dataclass(frozen=True)
class TableDoc:
    name: str
    description: str
    columns: tuple[ColumnDoc, ...]
    tests: tuple[DataTest, ...]
    path: Path  # the YAML file that documents the table
    layer: str  # staging | intermediate | marts
    # The partition dimension of the model (run_id: one Dagster partition per run; day: one per UTC day), or
    # None for a model computed whole (lib/warehouse/partitions.py); and the column whose value names each
    # row's partition (the dimension's name, unless the YAML names another, such as `hour` for a day)
    partitioned_by: str | None = None
    partition_column: str | None = None

    def column(self, name: str) -> ColumnDoc | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def descriptions(self) -> dict[str, str]:
        return {c.name: c.description or "" for c in self.columns}


def _fail(path: Path, where: str, problem: str) -> SqlModelError:
    return SqlModelError(f"{path}: {where}: {problem}")


def _text(value: Any, path: Path, where: str, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, where, "needs a description (a non-empty text)")
    return " ".join(value.split())


def _names(value: Any, path: Path, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _fail(path, where, "`columns` must list column names")
    return tuple(value)


def _test_entry(entry: Any, path: Path, where: str) -> tuple[str, dict]:
    """`unique` or `{accepted_values: {values: [...]}}` as (kind, arguments)."""
    kind, args = (entry, {}) if isinstance(entry, str) else (None, None)
    if isinstance(entry, dict) and len(entry) == 1:
        kind, args = next(iter(entry.items()))
    if kind not in TEST_KINDS or not isinstance(args, dict):
        raise _fail(path, where, f"unknown data test {entry!r} (known: {', '.join(TEST_KINDS)})")
    return kind, args


def _tests(spec: Any, table: str, column: str | None, path: Path, where: str) -> list[DataTest]:
    """The data tests of one column (`column` set) or of the table (`column` None: `unique` with `columns`)."""
    if spec is None:
        return []
    if not isinstance(spec, list):
        raise _fail(path, where, "`data_tests` must be a list")
    found = []
    for entry in spec:
        kind, args = _test_entry(entry, path, where)
        if column is None:
            if kind != "unique" or set(args) != {"columns"}:
                raise _fail(path, where, "a table-level data test is `unique: {columns: [a, b]}` (a combination "
                            "key); put single-column tests under the column")
            found.append(DataTest(kind, table, _names(args["columns"], path, where)))
        elif kind == "accepted_values":
            values = args.get("values")
            if set(args) != {"values"} or not isinstance(values, list) or not values:
                raise _fail(path, where, "accepted_values needs `values: [...]`")
            found.append(DataTest(kind, table, (column,), tuple(values)))
        elif args:
            raise _fail(path, where, f"{kind} takes no arguments")
        else:
            found.append(DataTest(kind, table, (column,)))
    return found


def _column(entry: Any, table: str, path: Path) -> tuple[ColumnDoc, list[DataTest]]:
    if isinstance(entry, str):
        return ColumnDoc(entry, None), []
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise _fail(path, table, f"a column is a name or a mapping with `name`, not {entry!r}")
    where = f"{table}.{entry['name']}"
    unknown = set(entry) - _COLUMN_KEYS
    if unknown:
        raise _fail(path, where, f"unknown keys {sorted(unknown)} (known: {sorted(_COLUMN_KEYS)})")
    description = _text(entry.get("description"), path, where, required=False)
    return ColumnDoc(entry["name"], description), _tests(entry.get("data_tests"), table, entry["name"], path, where)


def table_doc(spec: Any, path: Path, layer: str) -> TableDoc:
    """One model's entry, checked for shape."""
    name = spec.get("name") if isinstance(spec, dict) else None
    if not isinstance(name, str):
        raise _fail(path, "models", f"every entry is a mapping with a `name`, not {spec!r}")
    unknown = set(spec) - _MODEL_KEYS
    if unknown:
        raise _fail(path, name, f"unknown keys {sorted(unknown)} (known: {sorted(_MODEL_KEYS)})")
    if not isinstance(spec.get("columns", []), list):
        raise _fail(path, name, "`columns` must be a list")
    columns, tests = [], _tests(spec.get("data_tests"), name, None, path, name)
    for entry in spec.get("columns", []):
        column, column_tests = _column(entry, name, path)
        if any(c.name == column.name for c in columns):
            raise _fail(path, name, f"column {column.name!r} is listed twice")
        columns.append(column)
        tests += column_tests
    listed = {c.name for c in columns}
    for test in tests:
        missing = [c for c in test.columns if c not in listed]
        if missing:
            raise _fail(path, f"{name} {test.kind}", f"tests {missing}, which are not among its columns")
    description = _text(spec.get("description"), path, name, required=True)
    partitioned_by = _text(spec.get("partitioned_by"), path, f"{name}.partitioned_by", required=False)
    partition_column = _text(spec.get("partition_column"), path, f"{name}.partition_column", required=False)
    if partitioned_by is not None and partitioned_by not in PARTITION_KEYS:
        raise _fail(path, name, f"partitioned_by {partitioned_by!r}: the dimensions are {sorted(PARTITION_KEYS)}")
    if partition_column is not None and partitioned_by is None:
        raise _fail(path, name, "names a partition_column but no partitioned_by dimension")
    partition_column = partition_column or partitioned_by
    if partition_column is not None and partition_column not in listed:
        raise _fail(path, name, f"its partition column {partition_column!r} is not among its columns")
    return TableDoc(name, description, tuple(columns), tuple(tests), path, layer, partitioned_by, partition_column)


def layer_files(root: Path) -> list[tuple[str, Path]]:
    """Every model YAML: `<layer>/_*.yml` (one per layer, or one per model, as in dbt)."""
    return [(layer, path) for layer in LAYERS for path in sorted((root / layer).glob("_*.yml"))]


def load_model_docs(root: Path) -> dict[str, TableDoc]:
    """Every model entry of the layers' YAML files, by model name. Raises SqlModelError naming the file."""
    docs: dict[str, TableDoc] = {}
    for layer, path in layer_files(root):
        content = yaml.load(path.read_text(), Loader=_LOADER) or {}
        if not isinstance(content, dict) or set(content) != {"models"} or not isinstance(content["models"], list):
            raise SqlModelError(f"{path}: a model YAML holds one key, `models:`, a list of models")
        for spec in content["models"]:
            doc = table_doc(spec, path, layer)
            if doc.name in docs:
                raise _fail(path, doc.name, f"is already documented in {docs[doc.name].path}")
            docs[doc.name] = doc
    return docs


def inherit_descriptions(doc: TableDoc, upstream: Iterable[TableDoc]) -> TableDoc:
    """`doc` with every undescribed column described as the first relation it reads describes that column."""
    upstream = list(upstream)
    columns = []
    for column in doc.columns:
        if column.description is None:
            source = next((u for u in upstream if (c := u.column(column.name)) and c.description), None)
            if source is None:
                read = ", ".join(u.name for u in upstream) or "no documented relation"
                raise _fail(doc.path, f"{doc.name}.{column.name}", f"needs a description: none of the relations "
                            f"it reads ({read}) documents a column of that name")
            column = ColumnDoc(column.name, source.column(column.name).description, source.name)
        columns.append(column)
    return dataclasses.replace(doc, columns=tuple(columns))
