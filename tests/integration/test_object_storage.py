"""The lake and the catalog in an S3-compatible bucket (DIPLO_LAKE_URL), and many writers sharing it.

The bucket is moto's server mode on 127.0.0.1 (tests/helpers/loopback/s3_server.py): it stands in for S3, MinIO
or GCS's S3 interoperability, speaking the same REST API (path-style URLs, SigV4, conditional PUTs). Every
`diplo` here is a separate process, configured only through the environment, as on another machine; the inbox
is small (three runs written by the real WandB SDK, a few Axiom events) so the module stays quick. The demo's
whole inbox on PostgreSQL and the bucket: test_demo_scale_out.py.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from diplo_pipeline.demo.sdk import run_in_subprocess
from tests.helpers import sdk_runs
from tests.helpers.bucket_hosts import as_a_bucket_host, diplo, host_env
from tests.helpers.files import set_mtime
from tests.helpers.loopback.s3_server import loopback_s3

pytestmark = pytest.mark.slow  # builds; tests/conftest.py schedules slow modules first

DUCKDB_CLI = Path(sys.executable).with_name("duckdb")
EVENTS = [
    {"_time": "2025-12-22T19:10:00Z", "event": "rollout_start", "rollout_id": "r1", "horizon_type": "short"},
    {"_time": "2025-12-22T19:11:00Z", "event": "rollout_complete", "rollout_id": "r1", "total_duration_ms": 45000.0},
]


@pytest.fixture(scope="module")
def s3():
    with loopback_s3() as store:
        yield store


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Path:
    """Two finished runs and an Axiom export; `add_run` writes a third when a test needs new input."""
    root = tmp_path_factory.mktemp("inbox")
    for folder in ("wandb", "axiom", "sweeps"):
        (root / folder).mkdir()
    for run_id in ("s3run0001", "s3run0002"):
        run_in_subprocess(sdk_runs.simple_run, str(root / "wandb"), run_id, f"grpo-{run_id}", 6)
    (root / "axiom" / "events.ndjson").write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    set_mtime(root / "wandb", sdk_runs.START + 86400)  # every writer stopped long ago
    return root


def add_run(inbox: Path, run_id: str) -> None:
    run_in_subprocess(sdk_runs.simple_run, str(inbox / "wandb"), run_id, f"grpo-{run_id}", 4)
    set_mtime(inbox / "wandb", sdk_runs.START + 86400)


def start_build(env: dict[str, str], cwd: Path) -> subprocess.Popen:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "diplo_pipeline.cli", "build"], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def lake_objects(s3, prefix: str) -> dict[str, str]:
    """Every object of the lake's tables (not the state, not the catalog's pinned versions) -> its ETag."""
    client, out = s3.client(), {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=f"{prefix}/lake/"):
        for item in page.get("Contents", []):
            key = item["Key"].removeprefix(f"{prefix}/lake/")
            if not key.startswith(("_state/", "_versions/", "_lease/")):
                out[key] = item["ETag"]
    return out


def mart_digests(s3, prefix: str) -> dict[str, str]:
    """sha256 of every intermediate and mart file: the same inputs give byte-identical files
    (tests/integration/test_determinism.py), so two warehouses are the same when these are."""
    client = s3.client()
    return {key: hashlib.sha256(client.get_object(Bucket=s3.bucket, Key=f"{prefix}/lake/{key}")["Body"].read())
            .hexdigest() for key in lake_objects(s3, prefix)
            if key.startswith(("intermediate/", "marts/")) and ".good" not in key}


@pytest.fixture(scope="module")
def first_build(s3, inbox, tmp_path_factory):
    host = tmp_path_factory.mktemp("host-a")
    env = host_env(s3, host, inbox, "team")
    done = diplo(env, "build", cwd=host)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "check failed" not in done.stderr  # a healthy inbox: no warning
    return {"host": host, "env": env, "build": done}


def test_the_lake_goes_into_the_bucket_and_diplo_answers_from_it_on_another_machine(
        s3, inbox, first_build, tmp_path):
    keys = s3.keys()
    for key in ("lake/raw/wandb/runs/s3run0001.parquet", "lake/raw/wandb/metric_points/s3run0002.parquet",
                "lake/marts/run_steps/s3run0001.parquet", "lake/marts/rollouts.parquet",
                "lake/_state/assets.json", "lake/_state/partitions/run_id.json", "catalog.json",
                "warehouse.duckdb"):
        assert key in keys
    # What the host's own outputs (its catalog file, its reports) were built from is the host's: another
    # host sharing the bucket still builds its own.
    assert "lake/_state/last_build.json" not in keys
    assert (first_build["host"] / "data" / "_state" / "last_build.json").exists()
    pointer = json.loads(s3.client().get_object(Bucket=s3.bucket, Key="team/catalog.json")["Body"].read())
    assert pointer["catalog"] in keys and pointer["catalog"].startswith("catalogs/")
    # Nothing of the lake on the build host's disk: only its own copy of the catalog and the reports.
    assert not (first_build["host"] / "data" / "lake").exists()
    assert not (first_build["host"] / "data" / "quarantine").exists()
    # Every file is whole (one PUT each): each reads as Parquet.
    client = s3.client()
    for key in keys:
        if key.endswith(".parquet"):
            pq.read_table(io.BytesIO(client.get_object(Bucket=s3.bucket, Key=f"team/{key}")["Body"].read()))

    # Another machine: no data dir of its own, the same bucket. `diplo` attaches the published catalog.
    elsewhere = host_env(s3, tmp_path, inbox, "team")
    runs = diplo(elsewhere, "runs", "--format", "json", cwd=tmp_path)
    assert runs.returncode == 0, runs.stderr[-3000:]
    assert sorted(r["run_id"] for r in json.loads(runs.stdout)) == ["s3run0001", "s3run0002"]
    assert not (tmp_path / "data").exists()

    # The one-line recipe opens it in the DuckDB CLI, which reads the credentials from its own environment.
    recipe = diplo(elsewhere, "catalog-url", cwd=tmp_path)
    assert recipe.returncode == 0, recipe.stderr
    line = recipe.stdout.strip()
    assert "\n" not in line and f"ATTACH 's3://{s3.bucket}/team/{pointer['catalog']}'" in line
    assert "loopback-secret" not in line  # getenv(...), never the secret itself
    points = diplo(elsewhere, "sql", "select count(*) as n from metric_points", "--format", "json", cwd=tmp_path)
    expected_points = json.loads(points.stdout)[0]["n"]
    assert expected_points > 0
    sql = f"{line}\nselect count(*) as runs from runs;\nselect count(*) from metric_points;"
    cli = subprocess.run([str(DUCKDB_CLI), "-csv", "-noheader"], input=sql, env=elsewhere, capture_output=True,
                         text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.split()[-2:] == ["2", str(expected_points)]  # after CREATE SECRET's own "true"


def test_a_build_with_nothing_new_rewrites_nothing_in_the_bucket(s3, first_build):
    before = lake_objects(s3, "team")
    again = diplo(first_build["env"], "build", cwd=first_build["host"])
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing new since the last build" in again.stderr
    assert lake_objects(s3, "team") == before  # idempotent: not one table object written again


READER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from diplo_pipeline.lib.lake.object_store import ObjectPath
    from diplo_pipeline.lib.warehouse.catalog_reader import connect_readonly
    con = connect_readonly(ObjectPath(sys.argv[1]))
    stop = Path(sys.argv[2])
    while True:
        done = stop.exists()
        row = con.execute(
            "select (select count(*) from runs), (select count(distinct run_id) from run_steps),"
            " (select count(*) from metric_points), (select count(distinct run_id) from run_learning)").fetchone()
        print(json.dumps(row), flush=True)
        if done:
            break
        time.sleep(0.2)
""")


def test_a_reader_holding_the_catalog_open_sees_one_build_while_another_is_published(
        s3, inbox, first_build, tmp_path):
    env = first_build["env"]
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, f"s3://{s3.bucket}/team/warehouse.duckdb", str(stop)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first_line = reader.stdout.readline()
    assert first_line, reader.stderr.read()
    add_run(inbox, "s3run0003")
    build = diplo(env, "build", cwd=first_build["host"])
    assert build.returncode == 0, build.stderr[-3000:]
    stop.touch()
    out, err = reader.communicate(timeout=120)
    seen = [tuple(json.loads(line)) for line in [first_line, *out.splitlines()]]
    assert reader.returncode == 0, err[-3000:]
    assert len(seen) >= 5  # it kept asking all through the build
    # the first build, whole, however the lake changed under it
    assert len(set(seen)) == 1 and seen[0][:2] == (2, 2) and seen[0][2] > 0, seen
    # A new reader gets the new build, whole.
    fresh = diplo(env, "sql", "select (select count(*) from runs) || '/' || (select count(distinct run_id) "
                  "from run_steps) as n", "--format", "json", cwd=first_build["host"])
    assert json.loads(fresh.stdout) == [{"n": "3/3"}]


def test_of_many_builds_asking_for_the_bucket_lease_at_once_exactly_one_gets_it(s3, monkeypatch):
    """The lease's promise, asked for by eight builds in the same instant: one PUT creates it, seven are refused
    (and wait). (moto needed help to keep S3's atomic conditional PUT: tests/helpers/loopback/s3_server.py.)"""
    from diplo_pipeline.lib.lake.bucket_lease import Lease, _client, lease_path
    from diplo_pipeline.lib.lake.object_store import ObjectPath, S3Settings

    as_a_bucket_host(monkeypatch, s3)  # what a `diplo build` process sees
    path = lease_path(ObjectPath(f"s3://{s3.bucket}/lease-race", S3Settings.from_env()))
    for attempt in range(5):  # a race: ask five times, so one lucky interleaving cannot hide a broken lock
        askers = [(Lease(path, seconds=60), _client(path)) for _ in range(8)]
        at_once = threading.Barrier(len(askers))

        def ask(asker, at_once=at_once):
            lease, client = asker
            at_once.wait()
            return lease._put(client, b"{}", IfNoneMatch="*")

        with concurrent.futures.ThreadPoolExecutor(len(askers)) as pool:
            granted = [etag for etag in pool.map(ask, askers) if etag]
        assert len(granted) == 1, (attempt, granted)
        s3.client().delete_object(Bucket=s3.bucket, Key=path.key)


def test_file_stats_in_the_bucket_list_each_folder_once_and_agree_however_many_neighbours_were_asked(
        s3, monkeypatch):
    """The partition fingerprints stat every run's files through `file_stats`: one LIST per folder. A path's
    stat must not depend on how many of its neighbours were asked with it, or a build asking for one run and
    a build asking for all would disagree on what is up to date."""
    from diplo_pipeline.lib.lake.io import file_stats
    from diplo_pipeline.lib.lake.object_store import ObjectPath, S3Settings

    as_a_bucket_host(monkeypatch, s3)
    root = ObjectPath(f"s3://{s3.bucket}/file-stats", S3Settings.from_env())
    for i, size in enumerate((3, 5, 8)):
        (root / "runs" / f"r{i}.parquet").write_bytes(b"x" * size)
    (root / "days" / "d0.parquet").write_bytes(b"y" * 13)
    asked = [root / "runs" / "r0.parquet", root / "runs" / "r2.parquet", root / "runs" / "gone.parquet",
             root / "days" / "d0.parquet", root / "nowhere" / "x.parquet"]
    together = file_stats(asked)
    assert {p.name: s and s.st_size for p, s in together.items()} == {
        "r0.parquet": 3, "r2.parquet": 8, "gone.parquet": None, "d0.parquet": 13, "x.parquet": None}
    for path in asked:
        alone = file_stats([path])[path]
        assert (alone and (alone.st_size, alone.st_mtime_ns)) == (
            together[path] and (together[path].st_size, together[path].st_mtime_ns)), path
        assert (file_stats([path], existence_only=True)[path] is None) == (together[path] is None)


DAGSTER_PG_YAML = """\
telemetry:
  enabled: false
storage:
  postgres:
    postgres_db:
      hostname: {env: DAGSTER_PG_HOST}
      port: {env: DAGSTER_PG_PORT}
      db_name: {env: DAGSTER_PG_DB}
      username: {env: DAGSTER_PG_USER}
      password: {env: DAGSTER_PG_PASSWORD}
      scheme: postgresql+psycopg2  # SQLAlchemy 2.1 would pick psycopg 3, which is not installed
"""


def _lease_held(s3, prefix: str) -> bool:
    return "lake/_lease/build.json" in dataclasses.replace(s3, prefix=prefix).keys("lake/_lease/")


def _one_host_holds_the_third_run(s3, inbox, first_build) -> None:
    """The reader test above adds s3run0003 to the inbox and builds it on one host (prefix "team"); run on
    its own, this test does the same."""
    if "marts/run_steps/s3run0003.parquet" not in lake_objects(s3, "team"):
        add_run(inbox, "s3run0003")
        done = diplo(first_build["env"], "build", cwd=first_build["host"])
        assert done.returncode == 0, done.stderr[-3000:]


def test_two_hosts_building_into_one_bucket_take_turns_lose_no_run_and_converge_to_one_build(
        s3, inbox, first_build, postgres, tmp_path):
    """Two "hosts": two processes, each with its own Dagster home (so its own code server) and data dir, one
    PostgreSQL instance for both, one bucket. They cannot see each other's file locks; the bucket's lease
    (lib/lake/bucket_lease.py) makes one wait for the other."""
    _one_host_holds_the_third_run(s3, inbox, first_build)
    shared = tmp_path / "inbox"
    shutil.copytree(inbox, shared, copy_function=shutil.copy2)  # mtimes kept: the same inputs as one build
    pg_env = postgres.create_database("many_writers")
    hosts = []
    for name in ("host-a", "host-b"):
        (tmp_path / name / "dagster_home").mkdir(parents=True)
        (tmp_path / name / "dagster_home" / "dagster.yaml").write_text(DAGSTER_PG_YAML)
        hosts.append(host_env(s3, tmp_path / name, shared, "shared", **pg_env))
    # The instance's schema is created once, before the hosts start (as a deployment's migration job does).
    subprocess.run([sys.executable, "-c", "import dagster as dg; dg.DagsterInstance.get().get_runs(limit=1)"],
                   env=hosts[0], check=True, capture_output=True, timeout=300)
    # Host B starts once host A holds the lease, so the two overlap however the machine schedules them (how
    # two builds asking in the same instant fare is the test above).
    started = time.monotonic()
    builds = [start_build(hosts[0], tmp_path / "host-a")]
    while not _lease_held(s3, "shared"):
        assert builds[0].poll() is None, builds[0].communicate()[1][-3000:]
        assert time.monotonic() - started < 300, "host A never took the bucket's lease"
        time.sleep(0.2)
    builds.append(start_build(hosts[1], tmp_path / "host-b"))
    outcomes = [(b.pid, *b.communicate(timeout=900), b.returncode) for b in builds]
    elapsed = time.monotonic() - started
    assert [code for *_, code in outcomes] == [0, 0], [err[-3000:] for _, _, err, _ in outcomes]
    waited = [(pid, out + err) for pid, out, err, _ in outcomes if "waiting for the build started by PID" in out + err]
    assert [pid for pid, _ in waited] == [builds[1].pid], [err[-2000:] for _, _, err, _ in outcomes]  # B waited
    waiter, message = waited[0]
    assert "_lease/build.json" in message and str(next(p for p, *_ in outcomes if p != waiter)) in message
    assert not _lease_held(s3, "shared")  # released
    # The waiting host found the warehouse the other had just built up to date (the hosts' own paths are not
    # part of what a table is built from): it built its own reports and catalog, no model, no partition.
    waited_out = next(out + err for pid, out, err, _ in outcomes if pid == waiter)
    summary = re.search(r"recomputed (\d+) run and (\d+) day partitions, (\d+) whole tables and reports", waited_out)
    assert summary, waited_out[-3000:]
    assert summary.groups() == ("0", "0", "4"), summary.group(0)  # the four report assets

    # Nothing lost: every Dagster run of both hosts is in the one instance, and every one succeeded.
    runs = postgres.execute("many_writers", "select run_id, status from runs")
    assert len(runs) >= 2 and {status for _, status in runs} == {"SUCCESS"}, runs

    # The same warehouse as one host building the same inbox alone (prefix "team", a SQLite home): that host
    # built two runs, then the third; these two hosts all three at once. The same files either way.
    ours, theirs = mart_digests(s3, "shared"), mart_digests(s3, "team")
    assert "marts/run_steps/s3run0003.parquet" in ours and len(ours) > 20
    assert ours == theirs
    print(f"two hosts into one bucket: {elapsed:.1f}s")
