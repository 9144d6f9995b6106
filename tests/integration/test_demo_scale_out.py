"""The demo's whole inbox on the scale-out path (issue 14): Dagster on a real PostgreSQL 15 server
(tests/helpers/postgres_server.py) and the lake in moto's S3 server on 127.0.0.1, which stands in for S3,
MinIO or GCS (tests/helpers/loopback/s3_server.py), against the embedded build of the same inbox."""

from __future__ import annotations

import json
import time
from collections import Counter

import dagster as dg
import pytest

from diplo_pipeline.defs.keys import WANDB_RUNS
from diplo_pipeline.lib.lake.object_store import ObjectPath
from diplo_pipeline.lib.warehouse.catalog_reader import connect_readonly
from tests.helpers.bucket_hosts import as_a_bucket_host, diplo, host_env
from tests.helpers.loopback.s3_server import loopback_s3

pytestmark = pytest.mark.slow  # a demo build; tests/conftest.py schedules slow modules first

def _compared(relation: str, column: str) -> bool:
    """Every column but those two builds differ in by design: when a run was ingested, and where a served
    file lives (on disk, in the bucket)."""
    return column != "ingested_at" and (relation, column) != ("catalog_status", "file")


def _digest(con, relation: str, columns: list[str]) -> tuple:
    """The relation's rows as a multiset, in one row: how many, and the sum of each row's hash (computed in
    DuckDB: fetching a few hundred thousand rows into Python to compare them took longer than the build)."""
    quoted = ", ".join(f'"{c}"' for c in columns)
    return con.execute(f'select count(*), sum(hash(row({quoted}))::hugeint) from "{relation}"').fetchone()


def _relations_that_differ(scaled, embedded) -> dict[str, tuple[tuple, tuple]]:
    """Every relation of the embedded catalog whose rows (as a multiset) the scaled one does not hold."""
    relations = [r for (r,) in embedded.execute(
        "select table_name from information_schema.tables where table_schema = 'main' order by 1").fetchall()]
    assert {"runs", "run_steps", "metric_points", "axiom_events", "findings", "power_law_fits"} <= set(relations)
    differ = {}
    for name in relations:
        columns = [c for (c, *_) in embedded.execute(f'describe "{name}"').fetchall() if _compared(name, c)]
        ours, theirs = _digest(scaled, name, columns), _digest(embedded, name, columns)
        if ours != theirs:
            differ[name] = (ours, theirs)
    return differ


def test_the_demo_built_on_postgres_into_the_bucket_holds_every_row_of_the_embedded_build(
        postgres, demo_catalog, tmp_path, monkeypatch):
    """`diplo build` of the demo's inbox with Dagster on PostgreSQL (DAGSTER_PG_*) and the lake in the bucket.
    Another machine reading the published catalog from the bucket finds every table and view of the embedded
    build (`make demo`'s default: SQLite instance, lake on disk; the session's shared demo catalog) with
    exactly its rows, `diplo runs` there lists every run, and every Dagster run of the build is in PostgreSQL,
    succeeded, each run ingested once."""
    pg = postgres.create_database("demo_scaled")
    host = tmp_path / "host"
    with loopback_s3() as s3:
        started = time.monotonic()
        done = diplo(host_env(s3, host, demo_catalog["inbox"], "demo", **pg), "build", cwd=host)
        elapsed = time.monotonic() - started
        assert done.returncode == 0, done.stderr[-4000:]
        assert "postgres" in (host / "dagster_home" / "dagster.yaml").read_text()

        # `diplo` on a machine with no data dir of its own answers from the bucket.
        elsewhere = tmp_path / "elsewhere"
        listed = diplo(host_env(s3, elsewhere, demo_catalog["inbox"], "demo"), "runs", "--format", "json",
                       cwd=elsewhere)
        assert listed.returncode == 0, listed.stderr[-3000:]
        assert not (elsewhere / "data").exists()
        assert sorted(r["run_id"] for r in json.loads(listed.stdout)) == sorted(
            r for (r,) in demo_catalog["con"].execute("select run_id from runs").fetchall())

        as_a_bucket_host(monkeypatch, s3, **pg)  # what another machine with the same variables sees
        scaled = connect_readonly(ObjectPath(f"s3://{s3.bucket}/demo/warehouse.duckdb"))
        try:
            differ = _relations_that_differ(scaled, demo_catalog["con"])
            runs_held = scaled.execute("select count(*) from runs").fetchone()[0]
        finally:
            scaled.close()
    assert differ == {}

    with dg.DagsterInstance.from_config(str(host / "dagster_home")) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        runs = instance.get_runs()
        assert runs and {run.status for run in runs} == {dg.DagsterRunStatus.SUCCESS}
        ingested = Counter(r.partition_key for r in instance.fetch_materializations(WANDB_RUNS, limit=10_000).records)
        assert len(ingested) == runs_held and set(ingested.values()) == {1}, ingested
    print(f"the demo on PostgreSQL + the bucket: {elapsed:.1f}s, {len(runs)} Dagster runs, {runs_held} runs")
