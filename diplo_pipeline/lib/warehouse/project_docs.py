"""A loaded SQL project joined to its YAML (lib/warehouse/model_docs.py), checked so the two cannot drift.

Every model and Python mart has an entry in its layer's YAML, and every entry has a model; the columns an
entry lists are exactly the columns its SQL outputs. What a model outputs is found without any data: the
sources are created empty with their raw schemas and every model is bound as a view over them, in build
order, so DuckDB itself says which columns (and types) each query produces. Any mismatch is an error when
the project loads (and so when the Dagster definitions load), naming the YAML file and the SQL file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path

import duckdb
import pyarrow as pa

from diplo_pipeline.lib.lake.duck import duckdb_session
from diplo_pipeline.lib.lake.io import write_text_atomic
from diplo_pipeline.lib.settings import user_cache_dir
from diplo_pipeline.lib.warehouse import sql_runner
from diplo_pipeline.lib.warehouse.generic_tests import generic_tests
from diplo_pipeline.lib.warehouse.model_docs import TableDoc, inherit_descriptions, load_model_docs
from diplo_pipeline.lib.warehouse.sql_project import Project, SqlModelError
from diplo_pipeline.lib.warehouse.sql_runner import PYTHON_MARTS, define_relations

Columns = tuple[tuple[str, str], ...]  # (column, DuckDB type) in output order


def python_marts(project: Project) -> dict[str, tuple[str, ...]]:
    """The Python marts built on this project's models (a small project in a test has none)."""
    return {name: inputs for name, inputs in PYTHON_MARTS.items() if all(d in project.models for d in inputs)}


def _check_entries(project: Project, docs: dict[str, TableDoc]) -> None:
    for name, model in project.models.items():
        if name not in docs:
            raise SqlModelError(f"{model.path}: the model {name!r} has no entry in "
                                f"{model.layer}/_{model.layer}.yml: add its description and columns there")
        if docs[name].layer != model.layer:
            raise SqlModelError(f"{docs[name].path}: {name} is a model of {model.layer}/ ({model.path}): "
                                f"document it in {model.layer}/_{model.layer}.yml")
    for name in python_marts(project):
        if name not in docs or docs[name].layer != "marts":
            raise SqlModelError(f"{project.root / 'marts' / '_marts.yml'}: the Python mart {name!r} needs an entry "
                                "(its description and columns)")
    for name, doc in docs.items():
        if name not in project.models and name not in python_marts(project):
            raise SqlModelError(f"{doc.path}: {name!r} is documented, but there is no {doc.layer}/{name}.sql "
                                "(nor a Python mart of that name): remove the entry or add the model")


def _resolved(project: Project, docs: dict[str, TableDoc]) -> dict[str, TableDoc]:
    """Every entry with each column described: inherited, where the entry gives none, from what it reads."""
    resolved: dict[str, TableDoc] = {}
    for name in project.order():
        reads = [resolved[d] for d in project.models[name].table_names if d in resolved]
        resolved[name] = inherit_descriptions(docs[name], reads)
    for name, inputs in python_marts(project).items():
        resolved[name] = inherit_descriptions(docs[name], [resolved[d] for d in inputs if d in resolved])
    return resolved


def output_columns(project: Project, source_schemas: Mapping[str, pa.Schema]) -> dict[str, Columns]:
    """The columns every model's SQL outputs, found by binding it over empty sources (no data is read).

    Binding every model costs half a second, in every process that loads the definitions (each `diplo
    build`, each Dagster code server and run worker). The answer depends only on the SQL, the source schemas,
    the code that defines the relations and DuckDB's release, so it is kept in the user's cache under their
    fingerprint: an unchanged project is bound once, any edit binds it again (and a drift still fails)."""
    missing = sorted(set(project.sources) - set(source_schemas))
    if missing:
        raise SqlModelError(f"{project.root / 'sources.yml'}: no column schema for the sources {missing}")
    cached = user_cache_dir() / f"model-columns-{_binding_inputs(project, source_schemas)}.json"
    with contextlib.suppress(OSError, ValueError, TypeError):
        return {name: tuple((column, kind) for column, kind in columns)
                for name, columns in json.loads(cached.read_text()).items()}
    found = _bind_output_columns(project, source_schemas)
    with contextlib.suppress(OSError):
        write_text_atomic(json.dumps(found), cached)
    return found


def _binding_inputs(project: Project, source_schemas: Mapping[str, pa.Schema]) -> str:
    digest = hashlib.sha256(f"duckdb {duckdb.__version__}\n".encode())
    for code in (Path(__file__), Path(sql_runner.__file__)):  # how the relations are defined and bound
        digest.update(code.read_bytes())
    for name in sorted(project.sources):
        source = project.sources[name]
        digest.update(f"source {name} {source.path} {source.partitioned_by} {source_schemas[name]}\n".encode())
    for macro in project.macros:
        digest.update(f"macro {macro}\n".encode())
    for name in project.order():
        digest.update(f"model {name}\0{project.models[name].body}\n".encode())
    return digest.hexdigest()[:24]


def _bind_output_columns(project: Project, source_schemas: Mapping[str, pa.Schema]) -> dict[str, Columns]:
    found: dict[str, Columns] = {}
    with duckdb_session() as con, tempfile.TemporaryDirectory() as empty_lake:
        define_relations(con, project, Path(empty_lake), dict(source_schemas), models=[])
        for name in project.order():
            model = project.models[name]
            try:
                con.execute(f"create view {name} as {model.body}")
                found[name] = tuple((row[0], str(row[1])) for row in con.execute(f"describe {name}").fetchall())
            except duckdb.Error as exc:
                raise SqlModelError(f"{model.path}: {type(exc).__name__}: {exc}") from exc
    return found


def _check_columns(doc: TableDoc, outputs: list[str], sql: Path) -> None:
    absent = [c for c in doc.column_names if c not in outputs]
    if absent:
        raise SqlModelError(f"{doc.path}: {doc.name} lists the columns {absent}, which {sql} does not output (it "
                            f"outputs: {', '.join(outputs)}): remove them from the YAML or add them to the model")
    undocumented = [c for c in outputs if c not in set(doc.column_names)]
    if undocumented:
        raise SqlModelError(f"{sql}: outputs the columns {undocumented}, which {doc.path} does not list under "
                            f"{doc.name}: add them there with their descriptions")


def documented(project: Project, source_schemas: Mapping[str, pa.Schema] | None = None) -> Project:
    """`project` with its YAML: each model's doc, every table's resolved docs, the generic data tests added to
    the hand-written ones, and each model's output columns. Raises SqlModelError on any drift."""
    if source_schemas is None:
        from diplo_pipeline.lib.warehouse.catalog import RAW_SCHEMAS  # the catalog module builds on this one

        source_schemas = RAW_SCHEMAS
    docs = load_model_docs(project.root)
    _check_entries(project, docs)
    resolved = _resolved(project, docs)
    columns = output_columns(project, source_schemas)
    for name, model in project.models.items():
        _check_columns(resolved[name], [c for c, _ in columns[name]], model.path)
    generated = generic_tests(resolved)
    clash = sorted(set(generated) & set(project.tests))
    if clash:
        raise SqlModelError(f"{project.tests[clash[0]].path}: the data test {clash[0]} is also generated from the "
                            "YAML: rename the file")
    return dataclasses.replace(
        project,
        models={name: dataclasses.replace(model, doc=resolved[name]) for name, model in project.models.items()},
        tests={**project.tests, **generated},
        docs=resolved,
        columns=columns,
    )
