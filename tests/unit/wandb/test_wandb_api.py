"""Contract tests of the live WandB source, driven through the real `wandb.Api` (wandb>=0.31,<0.32).

The server these tests start (tests/loopback/wandb_server.py) stands in for WandB's cloud, which this
machine cannot reach: real HTTP on 127.0.0.1 answering the GraphQL operations the SDK sends, and the
Parquet history exports with byte ranges. Runs on it are made from runs the real SDK wrote offline, so
the live path can be compared with the offline reader on the same data.
"""

from __future__ import annotations

import base64
import math
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from diplo_pipeline.demo.sdk import run_in_subprocess
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.wandb import api_sync, offline
from diplo_pipeline.lib.wandb.api_client import WandbApiSource
from diplo_pipeline.lib.wandb.api_errors import WandbAuthError, WandbUnavailableError
from diplo_pipeline.lib.wandb.api_settings import WandbApiSettings
from diplo_pipeline.lib.wandb.run_tables import discover_runs
from tests.helpers import sdk_runs
from tests.helpers.loopback.wandb_server import FakeRun, FakeWandb, Fault, runs_from_offline, wandb_time

pytestmark = pytest.mark.slow  # builds; tests/conftest.py schedules slow modules first

KEY = "feedc0ffee" * 4  # 40 characters, like a real key; distinctive, so a leak is easy to grep
POINT_COLUMNS = ["run_id", "step", "wandb_step", "timestamp", "key", "value", "value_text", "row_kind"]
RUN_COLUMNS = ["run_id", "run_name", "state", "created_at", "finished_at", "runtime_s", "tags", "run_kind",
               "sweep_name", "learning_rate", "total_steps", "last_step", "steps_logged", "config", "summary"]


@pytest.fixture(scope="module")
def offline_dir(tmp_path_factory) -> Path:
    """Runs written by the real SDK: one with every edge case (NaN, inf, strings, media), one plain."""
    root = tmp_path_factory.mktemp("offline")
    run_in_subprocess(sdk_runs.edge_case_run, str(root), "edge0001")
    run_in_subprocess(sdk_runs.simple_run, str(root), "fini0001", "grpo-20251222-200000", 30)
    return root


@pytest.fixture
def wandb_env(tmp_path, monkeypatch):
    """The SDK's own folders kept inside the test's tmp dir."""
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        folder = tmp_path / name.lower()
        folder.mkdir()
        monkeypatch.setenv(name, str(folder))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    return tmp_path


@pytest.fixture
def cloud(wandb_env, offline_dir):
    with FakeWandb(KEY) as fake:
        for run in runs_from_offline([offline_dir]):
            fake.put(run)
        yield fake


def source_for(fake: FakeWandb, **overrides) -> WandbApiSource:
    settings = WandbApiSettings(entity=fake.entity, project=fake.project, base_url=fake.url, **overrides)
    return WandbApiSource(KEY, settings, wait_base_s=0.1)


def sync(fake: FakeWandb, paths: DataPaths, tmp_path: Path, **overrides):
    return api_sync.sync(source_for(fake, **overrides), paths, tmp_path)


def table(paths: DataPaths, folder: str, run_id: str, columns: list[str]):
    loaded = pq.read_table(paths.raw / "wandb" / folder / f"{run_id}.parquet", columns=columns)
    keys = [(c, "ascending") for c in columns if c in ("step", "wandb_step", "key")]
    return loaded.sort_by(keys) if keys else loaded


def rows(arrow_table) -> list[dict]:
    """Rows with NaN made comparable (NaN is a value WandB stores; Arrow's equality says NaN != NaN)."""
    return [{k: "NaN" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
            for row in arrow_table.to_pylist()]


def logged_values(points):
    """Points that carry a value. A key logged as None is a NULL cell in WandB's wide export, which
    cannot be told from "not logged at this step", so only the offline reader can keep those."""
    import pyarrow.compute as pc

    return points.filter(pc.or_(pc.is_valid(points["value"]), pc.is_valid(points["value_text"])))


def lake_files(paths: DataPaths) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(paths.data_dir)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted((paths.raw / "wandb").rglob("*.parquet"))}


def test_first_sync_fills_the_same_tables_as_the_offline_reader(cloud, offline_dir, tmp_path):
    live = DataPaths.from_env(tmp_path / "live")
    offline_paths = DataPaths.from_env(tmp_path / "offline")
    for run in discover_runs([offline_dir]).values():
        offline.ingest_run(offline_paths, run, now=time.time() + 10_000)

    results = sync(cloud, live, tmp_path)

    assert sorted(results) == ["edge0001", "fini0001"]
    for run_id in results:
        assert rows(table(live, "metric_points", run_id, POINT_COLUMNS)) == rows(
            logged_values(table(offline_paths, "metric_points", run_id, POINT_COLUMNS))), run_id
        assert rows(table(live, "runs", run_id, RUN_COLUMNS)) == rows(table(offline_paths, "runs", run_id, RUN_COLUMNS))
        for kv in ("config", "summary"):
            assert rows(table(live, kv, run_id, ["key", "value", "value_text"]).sort_by("key")) == rows(
                table(offline_paths, kv, run_id, ["key", "value", "value_text"]).sort_by("key")), (run_id, kv)
        assert pq.read_table(live.raw / "wandb" / "runs" / f"{run_id}.parquet")["source"][0].as_py() == "api"
    # The edge cases survived the trip: NaN and inf as numbers, media as JSON text.
    edge = table(live, "metric_points", "edge0001", POINT_COLUMNS).to_pylist()
    assert any(p["key"] == "benchmark/loss" and p["value"] != p["value"] for p in edge)
    assert any(p["key"] == "games" and '"_type": "table-file"' in (p["value_text"] or "") for p in edge)

    ops = cloud.operations()
    # Config and summary came with the listing (the full fragment), not one `Run` request per run.
    listing = next(r for r in cloud.requests if r["operation"] == "Runs")
    assert "summaryMetrics" in listing["query"] and listing["variables"]["order"] == "+heartbeat_at"
    assert ops["Run"] == 0
    # Finished runs come whole from the Parquet export: one export and one file download each.
    assert ops["RunParquetHistory"] == 2 and ops["FILE"] == 2 and ops["HistoryPage"] == 0


def test_second_sync_fetches_only_changed_runs(cloud, tmp_path):
    paths = DataPaths.from_env(tmp_path / "lake")
    sync(cloud, paths, tmp_path)
    first_watermark = api_sync.Listing.load(paths).watermark
    before = lake_files(paths)
    cloud.reset_log()

    assert sync(cloud, paths, tmp_path) == {}  # nothing changed: only the listing was asked for
    assert cloud.operations() == {"Viewer": 1, "GetDefaultEntity": 1, "Runs": 1}
    assert len(api_sync.Listing.load(paths).runs) == 2
    listing = next(r for r in cloud.requests if r["operation"] == "Runs")
    # The watermark goes back exactly as WandB wrote it, beside "every run still running".
    assert listing["variables"]["filters"] == (
        f'{{"$or": [{{"heartbeatAt": {{"$gte": "{first_watermark}"}}}}, {{"state": "running"}}]}}')
    assert lake_files(paths) == before

    # One run gets a new summary value (its heartbeat moves) and a new run appears.
    edited = cloud.runs["fini0001"]
    edited.summary = {**edited.summary, "benchmark/overall_score": 61.0}
    edited.heartbeat_at += 60
    now = time.time()
    cloud.put(FakeRun("newr0001", "grpo-20251230-090000", "finished", now - 600, now - 5,
                      {"learning_rate": 2e-5}, rows=[{"_step": s, "_timestamp": now - 600 + s, "benchmark/step": s,
                                                       "benchmark/loss": 1.0} for s in range(5)]))
    cloud.reset_log()
    results = sync(cloud, paths, tmp_path)

    assert sorted(results) == ["fini0001", "newr0001"]
    assert cloud.operations()["RunParquetHistory"] == 2
    after = lake_files(paths)
    assert all(after[f] == before[f] for f in before if "edge0001" in f)  # untouched
    summary = table(paths, "summary", "fini0001", ["key", "value"]).to_pylist()
    assert {"key": "benchmark/overall_score", "value": 61.0} in summary


def _growing_run(steps: int, exported: int, state: str = "running") -> FakeRun:
    start = 1_766_430_000.0
    rows = [{"_step": s, "_timestamp": start + 60 * s, "_runtime": 60.0 * s, "benchmark/step": s,
             "benchmark/loss": 1.0 / (s + 1)} for s in range(steps)]
    return FakeRun("grow0001", "grpo-20251224-100000", state, start, start + 60 * steps, {"total_steps": 40},
                   rows=rows, exported_steps=exported if state == "running" else None)


def test_running_run_grows_from_the_last_stored_step(wandb_env, tmp_path):
    paths = DataPaths.from_env(tmp_path / "lake")
    with FakeWandb(KEY) as cloud:
        cloud.put(_growing_run(20, exported=12))
        sync(cloud, paths, tmp_path)
        points = table(paths, "metric_points", "grow0001", ["step", "key", "write_seq"])
        # Exported steps and the live tail overlap in what the SDK returns; each step is stored once.
        assert sorted(p["step"] for p in points.to_pylist() if p["key"] == "benchmark/loss") == list(range(20))

        cloud.put(_growing_run(30, exported=25))
        cloud.reset_log()
        results = sync(cloud, paths, tmp_path)
        assert results["grow0001"].incremental and results["grow0001"].rows_fetched >= 10
        page = next(r for r in cloud.requests if r["operation"] == "HistoryPage")
        assert page["variables"]["minStep"] == 20  # only steps after the last one stored
        losses = [p for p in table(paths, "metric_points", "grow0001", ["step", "key", "value", "write_seq"])
                  .to_pylist() if p["key"] == "benchmark/loss"]
        assert [p["step"] for p in losses] == list(range(30))
        assert losses[25]["value"] == pytest.approx(1 / 26)
        assert len({p["write_seq"] for p in losses}) == 30  # the appended rows continue the sequence

        # A heartbeat without new steps costs the listing and nothing else.
        cloud.runs["grow0001"].heartbeat_at += 30
        cloud.reset_log()
        sync(cloud, paths, tmp_path)
        assert cloud.operations()["RunParquetHistory"] == 0 and cloud.operations()["HistoryPage"] == 0

        # It finishes: the whole history is read again from the export, and the state follows.
        cloud.put(_growing_run(40, exported=40, state="finished"))
        sync(cloud, paths, tmp_path)
        runs = table(paths, "runs", "grow0001", ["state", "last_step", "steps_logged"]).to_pylist()
        assert runs == [{"state": "finished", "last_step": 39, "steps_logged": 40}]


def test_rate_limit_waits_for_the_reset_the_server_names(cloud, tmp_path):
    paths = DataPaths.from_env(tmp_path / "lake")
    source = source_for(cloud)
    cloud.inject(Fault("Runs", 429, {"RateLimit-Remaining": "0", "RateLimit-Reset": "2"},
                       {"errors": [{"message": "rate limit exceeded"}]}))
    started = time.monotonic()
    results = api_sync.sync(source, paths, tmp_path)
    assert sorted(results) == ["edge0001", "fini0001"]
    assert time.monotonic() - started >= 1.8  # waited for the reset rather than hammering
    assert cloud.operations()["Runs"] == 3  # refused once, then the listing and the handles


def test_server_error_then_success(cloud, tmp_path):
    paths = DataPaths.from_env(tmp_path / "lake")
    cloud.inject(Fault("RunParquetHistory", 500, times=1))
    results = sync(cloud, paths, tmp_path)
    assert all(not isinstance(r, Exception) for r in results.values())
    assert cloud.operations()["RunParquetHistory"] == 3


def test_timeout_then_success(cloud, tmp_path):
    paths = DataPaths.from_env(tmp_path / "lake")
    cloud.inject(Fault("Runs", None, delay_s=4))  # the answer comes after the client stopped waiting
    results = sync(cloud, paths, tmp_path, timeout_s=2)
    assert sorted(results) == ["edge0001", "fini0001"]
    assert cloud.operations()["Runs"] >= 3


def test_a_run_that_keeps_failing_does_not_stop_the_others(cloud, tmp_path):
    paths = DataPaths.from_env(tmp_path / "lake")
    cloud.inject(Fault("FILE", 503, times=100, only="fini0001"))  # a "poisoned" run: 5xx for ever
    results = sync(cloud, paths, tmp_path, attempts=2, download_timeout_s=3)
    failure = results["fini0001"]
    assert isinstance(failure, WandbUnavailableError)
    assert "after 2 attempts" in str(failure) and "next sync retries" in str(failure)
    assert not (paths.raw / "wandb" / "runs" / "fini0001.parquet").exists()  # nothing half-written
    assert results["edge0001"].metric_points > 0  # the other run landed
    cloud.faults.clear()
    assert all(not isinstance(r, Exception) for r in sync(cloud, paths, tmp_path).values())


def key_sent(request: dict) -> str:
    """The key a request carried (wandb-core sends HTTP Basic `api:<key>`)."""
    scheme, _, value = request["headers"].get("Authorization", "").partition(" ")
    return base64.b64decode(value).decode().partition(":")[2] if scheme.lower() == "basic" else value


@pytest.mark.parametrize("status", [401, 403])
def test_refused_key_names_the_variable_and_never_the_key(cloud, tmp_path, status):
    if status == 401:
        with pytest.raises(WandbAuthError) as refused:
            WandbApiSource("z" * 40, WandbApiSettings(entity=cloud.entity, base_url=cloud.url))
    else:
        source = source_for(cloud)
        cloud.inject(Fault("Runs", 403, body={"errors": [{"message": "permission denied"}]}))
        with pytest.raises(WandbAuthError) as refused:
            source.list_runs()
    message = str(refused.value)
    assert "WANDB_API_KEY" in message and f"HTTP {status}" in message
    assert KEY not in message and "z" * 40 not in message and KEY not in repr(source_for(cloud))
    refused_op = "Viewer" if status == 401 else "Runs"
    refused_calls = [r for r in cloud.requests if r["operation"] == refused_op and
                     (status == 403 or key_sent(r) == "z" * 40)]
    assert len(refused_calls) == 1  # a refused key is not retried


def test_deleted_runs_leave_with_the_next_full_listing(cloud, tmp_path):
    paths = DataPaths.from_env(tmp_path / "lake")
    sync(cloud, paths, tmp_path)
    del cloud.runs["edge0001"]
    assert sync(cloud, paths, tmp_path) == {}  # an incremental listing cannot see a deletion
    results = api_sync.sync(source_for(cloud), paths, tmp_path, force_full=True)
    assert results == {"edge0001": None}
    assert not any("edge0001" in f for f in lake_files(paths))
    assert (paths.raw / "wandb" / "runs" / "fini0001.parquet").exists()


def test_sync_twice_gives_an_identical_lake(cloud, tmp_path):
    first, second = DataPaths.from_env(tmp_path / "a"), DataPaths.from_env(tmp_path / "b")
    sync(cloud, first, tmp_path)
    sync(cloud, second, tmp_path)
    for name in lake_files(first):
        a = pq.read_table(first.data_dir / name)
        b = pq.read_table(second.data_dir / name)
        if "ingested_at" in a.column_names:
            a, b = a.drop(["ingested_at"]), b.drop(["ingested_at"])
        assert rows(a) == rows(b), name
    assert lake_files(first).keys() == lake_files(second).keys()


def test_the_server_answers_byte_ranges_as_the_sdk_reads_them(cloud):
    """With keys, wandb-core reads the remote Parquet export by HTTP Range requests (§B.1)."""
    import wandb

    api = wandb.Api(api_key=KEY, overrides={"base_url": cloud.url}, timeout=30)
    run = api.run(f"{cloud.entity}/{cloud.project}/fini0001")
    rows = list(run.scan_history(keys=["benchmark/loss"]))
    assert [r["benchmark/loss"] for r in rows] == pytest.approx([0.05 + s / 1000 for s in range(30)])
    files = [r for r in cloud.requests if r["operation"] == "FILE"]
    ranged = [r for r in files if any(name.lower() == "range" for name in r["headers"])]
    assert ranged and len(ranged) == len(files), "the SDK read the export without byte ranges"


def test_heartbeat_strings_are_wandb_format(cloud):
    listed = source_for(cloud).list_runs()
    assert {run.heartbeat_at for run in listed} == {wandb_time(r.heartbeat_at) for r in cloud.runs.values()}


def test_the_sdk_is_the_range_these_contracts_were_written_against():
    """WandB's GraphQL schema is private: the loopback server answers what wandb 0.31 sends. A newer SDK
    may send other operations; re-check tests/loopback/wandb_server.py before widening the pin."""
    import wandb
    from packaging.specifiers import SpecifierSet

    assert wandb.__version__ in SpecifierSet(">=0.31,<0.32")


def test_a_run_wandb_marks_crashed_does_not_stay_running(wandb_env, tmp_path):
    """WandB marks a run crashed when its heartbeats stop; its heartbeat stays old and it is no longer
    running, so only asking again for the runs the lake holds as running finds the change."""
    paths = DataPaths.from_env(tmp_path / "lake")
    with FakeWandb(KEY) as cloud:
        cloud.put(_growing_run(20, exported=12))
        sync(cloud, paths, tmp_path)
        later = _growing_run(5, exported=5, state="finished")
        later.run_id, later.heartbeat_at = "othr0001", later.heartbeat_at + 10_000  # moves the watermark on
        cloud.put(later)
        sync(cloud, paths, tmp_path)
        cloud.put(_growing_run(20, exported=20, state="crashed"))  # same heartbeat as before
        results = sync(cloud, paths, tmp_path)
    assert list(results) == ["grow0001"]
    runs = table(paths, "runs", "grow0001", ["state", "last_step"]).to_pylist()
    assert runs == [{"state": "crashed", "last_step": 19}]


def test_a_run_with_offline_files_is_not_fetched_again_from_the_api(cloud, offline_dir, tmp_path):
    paths = DataPaths.from_env(tmp_path / "lake")
    for run in discover_runs([offline_dir]).values():
        if run.run_id == "edge0001":
            offline.ingest_run(paths, run, now=time.time() + 10_000)
    assert sorted(sync(cloud, paths, tmp_path)) == ["fini0001"]
    assert sync(cloud, paths, tmp_path) == {}  # and it does not stay pending either
    assert table(paths, "runs", "edge0001", ["source"]).to_pylist() == [{"source": "offline"}]


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: a real socket bound, then closed."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_a_closed_port_fails_in_seconds_naming_wandb_base_url(wandb_env):
    """wandb-core retries a refused connection until its timeout (60 s) on every attempt: four minutes.
    Nothing listening is told at once, with the default timeout and attempts."""
    closed = closed_port_url()
    started = time.monotonic()
    with pytest.raises(WandbUnavailableError) as unavailable:
        WandbApiSource(KEY, WandbApiSettings(entity="lab", base_url=closed))  # 4 attempts, 60 s timeout
    assert time.monotonic() - started < 15
    message = str(unavailable.value)
    port = closed.rsplit(":", 1)[1]
    assert f"connection refused: nothing is listening on 127.0.0.1:{port}" in message
    assert f"WANDB_BASE_URL is {closed}" in message and KEY not in message
    assert not isinstance(unavailable.value, WandbAuthError)  # the key was never the problem


def serve_until_killed(key: str, entity: str, project: str, pipe) -> None:
    """A loopback WandB in its own process, so that killing it closes every connection it holds."""
    with FakeWandb(key, entity=entity, project=project) as fake:
        pipe.send(fake.url)
        time.sleep(600)


def test_a_server_that_goes_away_mid_sync_is_not_retried(wandb_env):
    """The first failing call waits out its timeout once; the retry finds the port closed and stops."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=serve_until_killed, args=(KEY, "diplo-lab", "diplomacy-grpo", child))
    server.start()
    try:
        url = parent.recv()
        source = WandbApiSource(KEY, WandbApiSettings(entity="diplo-lab", base_url=url, timeout_s=5), wait_base_s=0.1)
        assert source.list_runs() == []
    finally:
        server.kill()
        server.join()
    started = time.monotonic()
    with pytest.raises(WandbUnavailableError) as unavailable:
        source.list_runs()  # four attempts of 5 s each would take over 20 s
    assert time.monotonic() - started < 15
    message = str(unavailable.value)
    assert "connection refused" in message and "list runs of diplo-lab/diplomacy-grpo" in message


@pytest.mark.parametrize(("key", "says"), [
    ("5ec7e75ec7e7abcd", "API key must have 40+ characters, has 16."),
    (KEY + "\n", "starts or ends with whitespace"),
])
def test_a_malformed_key_is_refused_before_any_request(cloud, key, says):
    started = time.monotonic()
    with pytest.raises(WandbAuthError) as refused:
        WandbApiSource(key, WandbApiSettings(entity=cloud.entity, base_url=cloud.url), wait_base_s=0.1)
    assert time.monotonic() - started < 10  # not retried
    message = str(refused.value)
    assert message.startswith("WANDB_API_KEY is not a WandB API key:") and says in message
    assert key.strip() not in message
    assert cloud.requests == []  # refused locally: nothing reached the server


def test_diplo_build_with_a_16_character_key_says_what_is_wrong_with_it(wandb_env, tmp_path):
    """The path a user takes: `diplo build` runs the listing asset, whose resource builds the source."""
    import os
    import subprocess
    import sys

    key = "5ec7e75ec7e7abcd"
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "AXIOM_", "DIPLO_"))}
    env.update(DAGSTER_HOME=str(tmp_path / "dagster_home"), DIPLO_DATA_DIR=str(tmp_path / "data"),
               DIPLO_WANDB_DIR=str(empty), DIPLO_AXIOM_DIR=str(empty), DIPLO_SWEEP_DIR=str(empty),
               WANDB_API_KEY=key, WANDB_ENTITY="diplo-lab")
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        env[name] = os.environ[name]
    with FakeWandb(KEY) as cloud:
        env["WANDB_BASE_URL"] = cloud.url
        done = subprocess.run([str(Path(sys.executable).parent / "diplo"), "build"], env=env, capture_output=True,
                              text=True, timeout=600, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    printed = " ".join((done.stdout + done.stderr).split())  # rich wraps long lines
    assert "failed: raw__wandb_api_listing" in printed
    assert "WANDB_API_KEY is not a WandB API key: API key must have 40+ characters, has 16." in printed
    assert key not in printed and cloud.requests == []
