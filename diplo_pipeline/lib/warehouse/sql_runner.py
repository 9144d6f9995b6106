"""The SQL model layer: `dbt_like_sql/{staging,intermediate,marts}/*.sql` as plain DuckDB SQL.

A model's dependencies are the tables its query names, found with DuckDB's own parser
(`json_serialize_sql`), minus its CTEs: no hand-kept lists, no templating. A model whose first line is
`-- materialized: view` stays a view (cheap pass-throughs over big raw tables); every other model is
written to `lake/<layer>/<model>.parquet`, or, when its YAML gives it a `partitioned_by` column, to one file
per partition, `lake/<layer>/<model>/<key>.parquet`, so a changed run rewrites its own file only. Inside
a build, raw sources and upstream models are visible under their plain names, exactly as in the catalog,
so a model file can be pasted into the DuckDB CLI.
`dbt_like_sql/tests/assert_*.sql` are data tests: a query that must return no rows."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb
import pyarrow as pa

from diplo_pipeline.lib.lake.duck import records
from diplo_pipeline.lib.lake.io import atomic_target, file_stats
from diplo_pipeline.lib.warehouse.sql_project import Project, SqlFile, SqlModelError


def model_path(lake: Path, model: SqlFile) -> Path:
    """A table model's Parquet file, or the folder of a partitioned model's files (one per key)."""
    if model.partitioned_by:
        return lake / model.layer / model.name
    return lake / model.layer / f"{model.name}.parquet"


def partition_file(lake: Path, model: SqlFile, key: str) -> Path:
    return model_path(lake, model) / f"{key}.parquet"


def partition_files(folder: Path) -> list[Path]:
    """The files of a partitioned table, in key order (temp files of a write in progress are not among them)."""
    return sorted(folder.glob("*.parquet"))  # none when the folder is missing (in a bucket: one LIST, no HEAD)


def present_files(paths: Iterable[Path]) -> list[Path]:
    """Those of `paths` that exist, in their order (in a bucket: a LIST per folder, not a HEAD per file)."""
    stats = file_stats(paths := list(paths), existence_only=True)
    return [path for path in paths if stats[path] is not None]


def empty_relation(columns: Iterable[tuple[str, str]]) -> str:
    """A query with `columns` (name, DuckDB type) and no rows: a partitioned table before its first partition."""
    typed = ", ".join(f'cast(null as {kind}) as "{name}"' for name, kind in columns)
    return f"select {typed} limit 0"


def files_relation(files: list[Path], columns: Iterable[tuple[str, str]]) -> str:
    """A query over exactly these Parquet files (or globs), or an empty one with `columns`."""
    if not files:
        return empty_relation(columns)
    listed = ", ".join(quote(str(path)) for path in files)
    return f"select * from read_parquet([{listed}], union_by_name = true)"


# Maps the files a relation reads now to the immutable copies a published catalog names instead
# (lib/warehouse/catalog_versions.py: the lake in a bucket); None reads the files themselves.
Pin = Callable[[list[Path]], list[Path]] | None


def table_relation(path: Path, columns: Iterable[tuple[str, str]] = (), pin: Pin = None) -> str:
    """A query over a table's Parquet: one file, or every partition file of a folder (a glob, so a catalog
    view over it sees a new partition without being rebuilt), or no rows while the folder is empty. With
    `pin`, the exact versions of the files there now, so the view never changes under its reader."""
    if path.suffix == ".parquet":
        return f"select * from read_parquet({quote(str(pin([path])[0] if pin else path))})"
    files = partition_files(path)
    if not files:
        return empty_relation(columns)
    if pin is not None:
        return files_relation(pin(files), columns)
    return f"select * from read_parquet({quote(str(path / '*.parquet'))}, union_by_name = true)"


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_MACRO_NAME = re.compile(r"create\s+or\s+replace\s+macro\s+(\w+)", re.IGNORECASE)


@functools.cache
def _macro_index(macros: tuple[str, ...]) -> tuple[dict[str, str], re.Pattern[str], dict[str, list[str]]]:
    """(name -> statement, a pattern finding calls of any of them, name -> the macros its body calls),
    worked out once per process for the project's macros."""
    statements = {_MACRO_NAME.search(statement)[1]: statement for statement in macros}
    calls = re.compile(r"\b(" + "|".join(map(re.escape, statements)) + r")\s*\(")
    called = {name: calls.findall(s[_MACRO_NAME.search(s).end():]) for name, s in statements.items()}
    return statements, calls, called


def macros_used_by(project: Project, sql: Iterable[str]) -> list[str]:
    """The project's macro statements that `sql` calls, directly or through another macro, in definition
    order. Defining every macro costs ~15 ms a connection and a build opens one per model."""
    statements, calls, called = _macro_index(project.macros)
    needed, pending = set(), [name for text in sql for name in calls.findall(text)]
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending.extend(called[name])
    return [statement for name, statement in statements.items() if name in needed]


def define_macros(con: duckdb.DuckDBPyConnection, project: Project, only_for: Iterable[str] | None = None) -> None:
    """Every macro of the project on `con`, or only those the SQL texts `only_for` need."""
    for statement in project.macros if only_for is None else macros_used_by(project, only_for):
        con.execute(statement)


def define_relations(
    con: duckdb.DuckDBPyConnection,
    project: Project,
    lake: Path,
    empty_schemas: dict[str, pa.Schema],
    models: list[str] | None = None,
    macros_for: Iterable[str] | None = None,
    partition_keys: Iterable[str] | None = None,
    dimension: str | None = None,
    pin: Pin = None,
    sources: Iterable[str] | None = None,
) -> list[str]:
    """Create the sources and models as relations on `con`, as users see them. Returns models skipped.

    Sources are views over lake globs (an empty, typed table while the lake has no file yet); view models
    are views over their SQL; table models are views over their Parquet (skipped until materialised, and
    so is everything built on a skipped model; a partitioned table is never skipped: it has no rows until
    its first partition is written). With `partition_keys`, every partitioned source and table (or, with
    `dimension`, those partitioned by it) holds only the rows of those partitions, so a partitioned model
    computes exactly them. The project's macros
    (limits, shared rules) come first: all of them, or with `macros_for` (SQL that will run on `con`) those
    it and the view models need. With `pin`, the sources read the exact versions of their files listed now.
    With `sources`, only those sources are defined (each is a listing and a footer read: in a bucket, HTTP).
    """
    keys = None if partition_keys is None else list(partition_keys)

    def restricted(relation) -> bool:
        return keys is not None and bool(relation.partitioned_by) and dimension in (None, relation.partitioned_by)
    if macros_for is not None:
        views = [project.models[m].body for m in (models or []) if project.models[m].materialized == "view"]
        macros_for = [*macros_for, *views]
    define_macros(con, project, macros_for)
    for source in project.sources.values():
        if sources is not None and source.name not in sources:
            continue
        pattern = lake.resolve() / source.path
        if restricted(source):
            existing = present_files(lake.resolve() / source.partition_path(k) for k in keys)
        elif pin is not None:
            existing = pin(sorted(pattern.parent.glob(pattern.name)))
        else:
            existing = [pattern] if any(pattern.parent.glob(pattern.name)) else []
        if existing:
            con.execute(f"create or replace view {source.name} as {files_relation(existing, ())}")
        else:
            con.register("empty_source", empty_schemas[source.name].empty_table())
            con.execute(f"create or replace table {source.name} as select * from empty_source")
            con.unregister("empty_source")
    skipped: list[str] = []
    for name in models if models is not None else project.order():
        model = project.models[name]
        if any(dep in skipped for dep in model.table_names):
            skipped.append(name)  # built on something not materialised yet
            continue
        if model.materialized == "view":
            con.execute(f"create or replace view {name} as {model.body}")
            continue
        target = model_path(lake.resolve(), model)
        if model.partitioned_by:
            files = (present_files(partition_file(lake.resolve(), model, k) for k in keys) if restricted(model)
                     else partition_files(target))
            relation = files_relation(files, project.columns.get(name, ()))
            con.execute(f"create or replace view {name} as {relation}")
        elif target.exists():
            con.execute(f"create or replace view {name} as select * from read_parquet({quote(str(target))})")
        else:
            skipped.append(name)
    return skipped


def hold_partitioned_in_memory(
    con: duckdb.DuckDBPyConnection, project: Project, dimension: str | None = None
) -> None:
    """Read every partitioned table defined on `con` (or those partitioned by `dimension`) into memory once. A reader
    asking for one run at a time (a run's report page issues a dozen such queries) would otherwise open the
    footer of every run's file per query: ~25 ms a query at 200 runs, against ~2 ms on a table in memory."""
    defined = {row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()}
    for name, model in project.models.items():
        chosen = model.partitioned_by and dimension in (None, model.partitioned_by) and name in defined
        if chosen and model.materialized == "table":
            hold_in_memory(con, name, f"select * from {name}")


def hold_in_memory(con: duckdb.DuckDBPyConnection, name: str, query: str, params: dict | None = None) -> None:
    """Relation `name` on `con` becomes the rows of `query` (which may read it), held in memory: the views
    that read it see those rows from then on."""
    con.execute(f"create or replace temp table __in_memory__{name} as {query}", params)
    con.execute(f"create or replace view {name} as select * from __in_memory__{name}")


# Marts computed in Python (fits, robust statistics) rather than SQL: written by their Dagster assets to
# lake/marts/<name>.parquet, and exposed like table models. Each with the relations it reads (its asset's deps).
PYTHON_MARTS: dict[str, tuple[str, ...]] = {
    "power_law_fits": ("metric_points", "runs"),
    "findings": ("int_findings__run_steps", "int_findings__runs", "int_findings__agents", "run_baselines"),
}


def python_mart_path(lake: Path, name: str) -> Path:
    return lake / "marts" / f"{name}.parquet"


def define_python_marts(con: duckdb.DuckDBPyConnection, lake: Path) -> list[str]:
    """Views over the Python marts that exist; returns their names."""
    present = []
    for name in PYTHON_MARTS:
        path = python_mart_path(lake.resolve(), name)
        if path.exists():
            con.execute(f"create or replace view {name} as select * from read_parquet({quote(str(path))})")
            present.append(name)
    return present


def _copy_atomic(con: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    """Write `query` to `target` as Parquet through a temp file renamed into place (in a bucket, one object
    that appears when its upload completes): a reader sees the old file or the new one."""
    with atomic_target(target) as tmp:
        con.execute(f"copy ({query}) to {quote(tmp)} (format parquet, compression zstd)")


def materialize(
    con: duckdb.DuckDBPyConnection,
    model: SqlFile,
    lake: Path,
    partition_keys: Iterable[str] | None = None,
    present_keys: Iterable[str] = (),
) -> int:
    """Run a table model into its Parquet file atomically, or define a view model; then expose it on `con`.

    A partitioned model computes `partition_keys` (the relations on `con` hold only their rows) and writes one
    file per key: every key in `present_keys` gets its file, with no rows if the query found none, and the file
    of any other key is removed (its run is gone from the sources). Returns the rows written."""
    try:
        if model.materialized == "view":
            con.execute(f"create or replace view {model.name} as {model.body}")
            return con.execute(f"select count(*) from {model.name}").fetchone()[0]
        if model.partitioned_by:
            return _materialize_partitions(con, model, lake, list(partition_keys or ()), set(present_keys))
        target = model_path(lake, model)
        _copy_atomic(con, model.body, target)
        con.execute(f"create or replace view {model.name} as select * from read_parquet({quote(str(target))})")
        return con.execute(f"select count(*) from {model.name}").fetchone()[0]
    except duckdb.Error as exc:
        raise SqlModelError(f"{model.path}: {type(exc).__name__}: {exc}") from exc


def _materialize_partitions(
    con: duckdb.DuckDBPyConnection, model: SqlFile, lake: Path, keys: list[str], present: set[str]
) -> int:
    key_sql, computed = model.partition_key_sql, f"__partitions__{model.name}"
    # Computed once for every key, then split: one scan of the inputs however many keys a run holds.
    con.execute(f"create or replace temp table {computed} as {model.body}")
    for key in keys:
        target = partition_file(lake, model, key)
        if key in present:
            _copy_atomic(con, f"select * from {computed} where {key_sql} = {quote(key)}", target)
        else:
            target.unlink(missing_ok=True)
    con.execute(f"create or replace view {model.name} as select * from {computed}")
    return con.execute(f"select count(*) from {computed}").fetchone()[0]


def run_test(con: duckdb.DuckDBPyConnection, test: SqlFile, limit: int = 10) -> tuple[int, list[dict]]:
    """(number of offending rows, the first of them). A data test passes with zero rows."""
    try:
        count = con.execute(f"select count(*) from ({test.body})").fetchone()[0]
        # A passing test (nearly every one, every build) is one query, not a second for rows it has not got.
        return count, records(con.sql(test.body).limit(limit)) if count else []
    except duckdb.Error as exc:
        raise SqlModelError(f"{test.path}: {type(exc).__name__}: {exc}") from exc
