"""Per-partition models (issue 12): which keys a build computes, what a partitioned model writes, and the
rule that a partition is computed from its own rows alone. Planted on a small project with a real DuckDB."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.warehouse import partitions, staleness
from diplo_pipeline.lib.warehouse.sql_project import Project, SqlModelError
from diplo_pipeline.lib.warehouse.sql_runner import define_relations, materialize, partition_file, table_relation
from tests.unit.warehouse.sql_project_files import SCHEMAS

SOURCES = """
sources:
  raw_things:
    path: raw/things/*.parquet
    asset: raw/things
    description: things, one file per run
    partitioned_by: run_id
  raw_totals:
    path: raw/totals/*.parquet
    asset: raw/totals
    description: one whole table
"""
SOURCE_SCHEMAS = {"raw_things": pa.schema([("run_id", pa.string()), ("value", pa.float64())]),
                  "raw_totals": SCHEMAS["raw_things"]}


def _project(tmp_path: Path, sql: dict[str, str], partitioned: dict[str, str]) -> Project:
    root = tmp_path / "sql"
    for layer in ("staging", "intermediate", "marts", "tests"):
        (root / layer).mkdir(parents=True)
    (root / "sources.yml").write_text(SOURCES)
    docs = []
    for name, body in sql.items():
        (root / "marts" / f"{name}.sql").write_text(body)
        with duckdb.connect() as con:  # the columns the model outputs, for its YAML
            for source, schema in SOURCE_SCHEMAS.items():
                con.register(source, schema.empty_table())
            columns = [c[0] for c in con.execute(f"describe {body}").fetchall()]
        doc = {"name": name, "description": name, "columns": [{"name": c, "description": c} for c in columns]}
        if name in partitioned:
            doc["partitioned_by"] = partitioned[name]
        docs.append(doc)
    (root / "marts" / "_marts.yml").write_text(yaml.safe_dump({"models": docs}))
    return Project.load(root, SOURCE_SCHEMAS)


def _write_run(lake: Path, run_id: str, values: list[float]) -> Path:
    path = lake / "raw" / "things" / f"{run_id}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"run_id": [run_id] * len(values), "value": values}), path)
    return path


PER_RUN = {"per_run": "select run_id, count(*) as n, sum(value) as total from raw_things group by run_id "
                      "order by run_id"}


def test_a_partitioned_model_writes_one_file_per_key_from_that_key_alone_and_removes_a_gone_one(tmp_path):
    project = _project(tmp_path, PER_RUN, {"per_run": "run_id"})
    lake = tmp_path / "lake"
    _write_run(lake, "a", [1.0, 2.0])
    _write_run(lake, "b", [10.0])
    with duckdb.connect() as con:
        define_relations(con, project, lake, SOURCE_SCHEMAS, partition_keys=["a"])
        assert con.execute("select count(*) from raw_things").fetchone()[0] == 2  # only run a's rows
        materialize(con, project.models["per_run"], lake, ["a"], present_keys=["a"])
    model = project.models["per_run"]
    assert pq.read_table(partition_file(lake, model, "a")).to_pylist() == [{"run_id": "a", "n": 2, "total": 3.0}]
    assert not partition_file(lake, model, "b").exists()  # not asked for: not computed
    with duckdb.connect() as con:  # the catalog's view: every partition file there is
        assert con.execute(table_relation(lake / "marts" / "per_run")).fetchall() == [("a", 2, 3.0)]
    (lake / "raw" / "things" / "a.parquet").unlink()  # run a removed from the sources
    with duckdb.connect() as con:
        define_relations(con, project, lake, SOURCE_SCHEMAS, partition_keys=["a"])
        materialize(con, model, lake, ["a"], present_keys=[])
    assert not partition_file(lake, model, "a").exists()
    with duckdb.connect() as con:  # no partition left: the relation has the columns and no rows
        assert con.execute(table_relation(lake / "marts" / "per_run", project.columns["per_run"])).fetchall() == []


def test_the_keys_to_build_are_the_new_the_changed_and_the_removed_ones(tmp_path):
    project = _project(tmp_path, PER_RUN, {"per_run": "run_id"})
    paths = DataPaths(tmp_path / "data", (), (), tmp_path / "sweeps")
    _write_run(paths.lake, "a", [1.0])
    b = _write_run(paths.lake, "b", [2.0])
    todo = partitions.plan(paths, project, "run_id", "code-1")
    assert sorted(todo) == ["a", "b"]
    partitions.record(paths, project, "run_id", todo)
    assert partitions.plan(paths, project, "run_id", "code-1") == {}  # nothing new: nothing to build
    _write_run(paths.lake, "c", [3.0])
    os.utime(b, ns=(b.stat().st_atime_ns, b.stat().st_mtime_ns + 10**9))  # run b rewritten
    assert sorted(partitions.plan(paths, project, "run_id", "code-1")) == ["b", "c"]
    partitions.record(paths, project, "run_id", partitions.plan(paths, project, "run_id", "code-1"))
    (paths.lake / "raw" / "things" / "a.parquet").unlink()
    gone = partitions.plan(paths, project, "run_id", "code-1")
    assert list(gone) == ["a"]  # its files must be deleted
    partitions.record(paths, project, "run_id", gone)
    assert partitions.plan(paths, project, "run_id", "code-1") == {}  # forgotten once deleted
    assert sorted(partitions.plan(paths, project, "run_id", "code-2")) == ["b", "c"]  # new code: every key


def test_a_partitioned_model_that_reads_a_whole_table_is_refused_when_the_project_loads(tmp_path):
    sql = {"mixed": "select t.run_id, count(*) as n from raw_things as t, raw_totals group by t.run_id"}
    with pytest.raises(SqlModelError, match=r"mixed is partitioned_by run_id .* reads raw_totals, which is not "
                                            r"partitioned"):
        _project(tmp_path, sql, {"mixed": "run_id"})


def test_an_unknown_partition_dimension_is_refused(tmp_path):
    with pytest.raises(SqlModelError, match=r"partitioned_by 'week': the dimensions are \['day', 'run_id'\]"):
        _project(tmp_path, PER_RUN, {"per_run": "week"})


def test_a_changed_input_makes_stale_what_reads_it_and_nothing_else(tmp_path):
    paths = DataPaths(tmp_path / "data", (), (), tmp_path / "sweeps")
    order = ["raw/runs", "raw/events", "runs_mart", "events_mart", "report"]
    parents = {"runs_mart": ["raw/runs"], "events_mart": ["raw/events"], "report": ["runs_mart", "events_mart"]}
    first = staleness.fingerprints(order, parents, {"raw/runs": "r1", "raw/events": "e1"}, "code")
    marts = ["runs_mart", "events_mart", "report"]
    assert staleness.stale(paths, first, marts) == marts  # never built
    staleness.record(paths, first, marts)
    assert staleness.stale(paths, first, marts) == []
    new_run = staleness.fingerprints(order, parents, {"raw/runs": "r2", "raw/events": "e1"}, "code")
    assert staleness.stale(paths, new_run, marts) == ["runs_mart", "report"]
    new_code = staleness.fingerprints(order, parents, {"raw/runs": "r1", "raw/events": "e1"}, "code 2")
    assert staleness.stale(paths, new_code, marts) == marts


def test_a_hosts_own_outputs_are_stale_on_another_host_that_shares_the_lake(tmp_path):
    """With the lake in a bucket, a host that finds the shared tables built by another still builds its own
    reports: their record is in its data dir, the tables' in the bucket."""
    order = ["raw/runs", "runs_mart", "report"]
    parents = {"runs_mart": ["raw/runs"], "report": ["runs_mart"]}
    current = staleness.fingerprints(order, parents, {"raw/runs": "r1"}, "code")

    class SharedLake(DataPaths):  # the bucket's `_state/` as a local folder: the S3 tests build the real one
        state = property(lambda self: tmp_path / "bucket" / "_state")

    host_a, host_b = (SharedLake(tmp_path / host, (), (), tmp_path / "sweeps", lake_url="s3://b/team")
                      for host in ("a", "b"))
    staleness.record(host_a, current, ["runs_mart", "report"], host_local={"report"})
    assert staleness.stale(host_a, current, ["runs_mart", "report"], host_local={"report"}) == []
    assert staleness.stale(host_b, current, ["runs_mart", "report"], host_local={"report"}) == ["report"]
    assert set(json.loads((tmp_path / "a" / "_state" / "assets.json").read_text())) == {"report"}
    assert set(json.loads((tmp_path / "bucket" / "_state" / "assets.json").read_text())) == {"runs_mart"}
    assert not (tmp_path / "b" / "_state").exists()
