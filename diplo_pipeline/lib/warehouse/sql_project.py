"""The SQL model layer: `dbt_like_sql/{staging,intermediate,marts}/*.sql` as plain DuckDB SQL.

A model's dependencies are the tables its query names, found with DuckDB's own parser
(`json_serialize_sql`), minus its CTEs: no hand-kept lists, no templating. A model whose first line is
`-- materialized: view` stays a view (cheap pass-throughs over big raw tables); every other model is
written to `lake/<layer>/<model>.parquet`. Inside a build, raw sources and upstream models are visible
under their plain names, exactly as in the catalog, so a model file can be pasted into the DuckDB CLI.
`dbt_like_sql/tests/assert_*.sql` are data tests: a query that must return no rows. Each layer's YAML
(`<layer>/_<layer>.yml`, lib/warehouse/model_docs.py) describes its models and columns and declares the
generic data tests (`unique`, `not_null`, `accepted_values`), which run like the hand-written ones."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import yaml

from diplo_pipeline.lib.lake.duck import duckdb_session
from diplo_pipeline.lib.warehouse.sql_root import SQL_ROOT

if TYPE_CHECKING:
    import pyarrow as pa

    from diplo_pipeline.lib.warehouse.model_docs import TableDoc

LAYERS = ("staging", "intermediate", "marts")

# The partition dimensions a model may be partitioned by, each with the SQL that gives a row's partition key
# from its partition column: a run id as it is; a UTC day (the session's time zone is UTC) from a day, a date
# or a timestamp in it, as `YYYY-MM-DD` like the day partitions of the raw Axiom events.
PARTITION_KEYS = {
    "run_id": "{column}",
    "day": "strftime(cast({column} as date), '%Y-%m-%d')",
}


_MATERIALIZED = re.compile(r"^\s*--\s*materialized:\s*(view|table)\s*$", re.MULTILINE)


class SqlModelError(Exception):
    """A model or test that cannot run, with the file and line that cause it."""


@dataclass(frozen=True)
class Source:
    name: str
    path: str  # glob relative to the lake root
    asset: str  # the Dagster asset that writes it, as "a/b"
    description: str
    partitioned_by: str | None = None  # a partition dimension: one file per key, `path`'s `*` being the key

    def partition_path(self, key: str) -> str:
        return self.path.replace("*", key, 1)


@dataclass(frozen=True)
class SqlFile:
    name: str
    layer: str  # staging | intermediate | marts | tests
    path: Path
    sql: str
    refs: tuple[tuple[str, int], ...]  # (table name, line) of every table the query reads
    doc: TableDoc | None = None  # a model's entry in its layer's YAML

    @property
    def table_names(self) -> list[str]:
        return [name for name, _ in self.refs]

    @property
    def materialized(self) -> str:
        match = _MATERIALIZED.search(self.sql.split("\n\n", 1)[0])
        return match.group(1) if match else "table"

    @property
    def description(self) -> str:
        """A model's description from its YAML; for a data test, its leading comment block."""
        if self.doc is not None:
            return self.doc.description
        lines = []
        for line in self.sql.splitlines():
            if not line.startswith("--"):
                break
            if not _MATERIALIZED.match(line):
                lines.append(line.removeprefix("--").strip())
        return " ".join(lines)

    @property
    def body(self) -> str:
        return self.sql.rstrip().rstrip(";")

    @property
    def partitioned_by(self) -> str | None:
        """The partition dimension (its YAML's `partitioned_by`: run_id or day), or None when built whole."""
        return self.doc.partitioned_by if self.doc is not None else None

    @property
    def partition_key_sql(self) -> str:
        """The SQL giving each output row's partition key."""
        return PARTITION_KEYS[self.partitioned_by].format(column=self.doc.partition_column)


def _line_of(sql: str, offset: int | None) -> int:
    return sql.count("\n", 0, offset or 0) + 1


def _walk_refs(node: Any, ctes: set[str], out: list[tuple[str, int | None]]) -> None:
    if isinstance(node, dict):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            ctes = ctes | {entry["key"] for entry in cte_map.get("map", [])}
        name = node.get("table_name")
        if node.get("type") == "BASE_TABLE" and name and not node.get("schema_name") and name not in ctes:
            out.append((name, node.get("query_location")))
        for value in node.values():
            _walk_refs(value, ctes, out)
    elif isinstance(node, list):
        for value in node:
            _walk_refs(value, ctes, out)


def parse_refs(sql: str, path: Path, con: duckdb.DuckDBPyConnection) -> tuple[tuple[str, int], ...]:
    """Tables the query reads, with their line numbers. Raises SqlModelError on a syntax error."""
    tree = json.loads(con.execute("select json_serialize_sql($sql)", {"sql": sql}).fetchone()[0])
    if tree.get("error"):
        position = tree.get("position")
        line = _line_of(sql, int(position)) if str(position or "").isdigit() else "?"
        raise SqlModelError(f"{path}:{line}: {tree.get('error_message')}")
    if len(tree["statements"]) != 1:
        raise SqlModelError(f"{path}: a model is exactly one SELECT statement, found {len(tree['statements'])}")
    found: list[tuple[str, int | None]] = []
    _walk_refs(tree["statements"][0], set(), found)
    seen: dict[str, int] = {}
    for name, location in found:
        seen.setdefault(name, _line_of(sql, location))
    return tuple(seen.items())


def load_sources(root: Path = SQL_ROOT) -> dict[str, Source]:
    spec = yaml.safe_load((root / "sources.yml").read_text())["sources"]
    return {name: Source(name, s["path"], s["asset"], s.get("description", ""), s.get("partitioned_by"))
            for name, s in spec.items()}


def _load_dir(root: Path, layer: str, pattern: str) -> dict[str, SqlFile]:
    out = {}
    with duckdb_session() as con:  # one connection for the folder: opening one costs more than parsing a file
        for path in sorted((root / layer).glob(pattern)):
            if path.name.startswith("_"):  # SQL kept beside the models that is not one (staging's typed projection)
                continue
            sql = path.read_text()
            out[path.stem] = SqlFile(path.stem, layer, path, sql, parse_refs(sql, path, con))
    return out


def load_macros(root: Path = SQL_ROOT) -> tuple[str, ...]:
    """The limits of thresholds.yml as `limit_<name>()`, then every `macros/*.sql` statement (rules shared
    by several models and the CLI, such as the health rule)."""
    from diplo_pipeline.lib.warehouse.thresholds import limit_macros  # thresholds.yml's reader needs SQL_ROOT

    statements = list(limit_macros(root))
    with duckdb_session() as con:  # one for every file: opening one costs more than splitting a file
        for path in sorted((root / "macros").glob("*.sql")):
            statements += [s.strip() for s in _statements(path.read_text(), con) if s.strip()]
    return tuple(statements)


def _statements(sql: str, con: duckdb.DuckDBPyConnection) -> list[str]:
    """A macros file's statements (each ends in `;`; comments may sit between them)."""
    return [statement.query.strip().rstrip(";") for statement in con.extract_statements(sql)]


@dataclass(frozen=True)
class Project:
    """Everything under dbt_like_sql/, validated: names unique, every reference resolvable, no cycles, and
    the YAML true to the SQL (lib/warehouse/project_docs.py)."""

    root: Path
    sources: dict[str, Source]
    models: dict[str, SqlFile]
    tests: dict[str, SqlFile]  # the hand-written assert_*.sql, then the generic tests of the YAML
    macros: tuple[str, ...] = ()  # `create macro` statements, in the order they must run
    docs: dict[str, TableDoc] = field(default_factory=dict)  # sources, models and Python marts
    columns: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)  # model -> (column, type)

    @classmethod
    def load(cls, root: Path = SQL_ROOT, source_schemas: Mapping[str, pa.Schema] | None = None) -> Project:
        """The project under `root`; `source_schemas` (default: the raw tables' schemas) let the YAML's columns
        be checked against what each model outputs."""
        sources = load_sources(root)
        models: dict[str, SqlFile] = {}
        for layer in LAYERS:
            for name, model in _load_dir(root, layer, "*.sql").items():
                clash = models.get(name) or (sources.get(name) and root / "sources.yml")
                if clash:
                    where = clash.path if isinstance(clash, SqlFile) else clash
                    raise SqlModelError(f"{model.path}: the name {name!r} is already defined in {where}")
                models[name] = model
        project = cls(root, sources, models, _load_dir(root, "tests", "assert_*.sql"), load_macros(root))
        for sql_file in [*models.values(), *project.tests.values()]:
            for name, line in sql_file.refs:
                if name not in models and name not in sources:
                    raise SqlModelError(
                        f"{sql_file.path}:{line}: reads table {name!r}, which is neither a model under "
                        f"{root.name}/ nor a source in sources.yml"
                    )
        project.order()  # fail early on cycles
        from diplo_pipeline.lib.warehouse.project_docs import documented  # it builds on this module

        project = documented(project, source_schemas)
        project.check_partitioning()
        return project

    def partitioned_by(self, name: str) -> str | None:
        """The partition column of a source or model, or None when it is one whole table."""
        relation = self.sources.get(name) or self.models.get(name)
        return relation.partitioned_by if relation is not None else None

    def check_partitioning(self) -> None:
        """A partitioned model computes one partition from that partition's rows alone, so it reads only
        relations partitioned the same way; anything else would make a partition depend on the others."""
        for model in self.models.values():
            dimension = model.partitioned_by
            if dimension is None:
                continue
            for name, line in model.refs:
                if self.partitioned_by(name) != dimension:
                    raise SqlModelError(
                        f"{model.path}:{line}: {model.name} is partitioned_by {dimension} "
                        f"({model.doc.path.name}) but reads {name}, which is "
                        + (f"partitioned_by {self.partitioned_by(name)}" if self.partitioned_by(name)
                           else "not partitioned") + ": partition it the same way or read a whole table"
                    )

    def partitioned_models(self, dimension: str) -> list[str]:
        """The models partitioned by `dimension`, in build order."""
        return [name for name in self.order() if self.models[name].partitioned_by == dimension]

    def order(self) -> list[str]:
        graph = {name: {d for d in m.table_names if d in self.models} for name, m in self.models.items()}
        try:
            return list(TopologicalSorter(graph).static_order())
        except CycleError as exc:
            raise SqlModelError(f"models depend on each other in a cycle: {' -> '.join(exc.args[1])}") from exc

    def test_target(self, test: str) -> str:
        """The table a data test guards (its Dagster check sits on it): the first model it reads, else the
        first source."""
        names = self.tests[test].table_names
        return next((name for name in names if name in self.models), names[0])

    def tests_of(self, table: str) -> list[str]:
        """The data tests that guard `table`."""
        return [test for test in self.tests if self.test_target(test) == table]

    def upstream(self, name: str) -> list[str]:
        """The model and every model it reads from, in build order."""
        needed, stack = set(), [name]
        while stack:
            current = stack.pop()
            if current in needed:
                continue
            needed.add(current)
            stack.extend(d for d in self.models[current].table_names if d in self.models)
        return [m for m in self.order() if m in needed]

    def built_on(self, name: str) -> set[str]:
        """Every table model `name` comes after in a build: the models upstream of it, itself, every source. A
        check reading only these can run in the model's own step."""
        return set(self.upstream(name)) | set(self.sources)

    def relations_read(self, names: Iterable[str]) -> tuple[list[str], list[str]]:
        """What a connection must define to run SQL naming `names`: (models in build order, sources). A table
        model is read from its own Parquet, so only a view model brings in what it reads; a name that is
        neither (a Python mart) is left to the caller."""
        models, sources, stack = set(), set(), list(names)
        while stack:
            current = stack.pop()
            if current in self.sources:
                sources.add(current)
            elif current in self.models and current not in models:
                models.add(current)
                if self.models[current].materialized == "view":
                    stack.extend(self.models[current].table_names)
        return [m for m in self.order() if m in models], [s for s in self.sources if s in sources]
