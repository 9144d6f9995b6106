"""End to end through real Dagster materialisations: SDK-written runs → lake → catalog."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from diplo_pipeline.build import build
from diplo_pipeline.definitions import defs
from diplo_pipeline.defs.warehouse.project import PROJECT
from diplo_pipeline.demo.sdk import run_in_subprocess
from diplo_pipeline.lib.lake.duck import duckdb_session
from diplo_pipeline.lib.settings import DataPaths
from tests.helpers import sdk_runs
from tests.helpers.files import set_mtime
from tests.helpers.materialisations import cursor, materialised_since

pytestmark = pytest.mark.slow  # builds; tests/conftest.py schedules slow modules first

RUNS = {
    "edge0001": "grpo-20251222-190000",
    "fini0001": "grpo-20251222-200000",
    "crsh0001": "grpo-20251222-210000",
    "resm0001": "grpo-20251222-220000",
}


@pytest.fixture(scope="module")
def sdk_runs_dir(tmp_path_factory) -> Path:
    """Four real offline runs, written once for the module: edge cases, finished, crashed, resumed."""
    root = tmp_path_factory.mktemp("sdk")
    run_in_subprocess(sdk_runs.edge_case_run, str(root), "edge0001")
    run_in_subprocess(sdk_runs.simple_run, str(root), "fini0001", RUNS["fini0001"], 30)
    run_in_subprocess(sdk_runs.simple_run, str(root), "crsh0001", RUNS["crsh0001"], 58, {"crash": True},
                      crash=True)
    # Resumed: crash after step 47, then resume the same run id from the checkpoint at step 40.
    run_in_subprocess(sdk_runs.simple_run, str(root), "resm0001", RUNS["resm0001"], 48, {"crash": True},
                      crash=True)
    run_in_subprocess(sdk_runs.simple_run, str(root), "resm0001", RUNS["resm0001"], 20,
                      {"first_step": 40, "resume": True, "loss_offset": 1.0, "start": sdk_runs.START + 3 * 3600})
    set_mtime(root, sdk_runs.START + 86400)  # all writers stopped long ago
    return root


@pytest.fixture
def built(data_env, instance, sdk_runs_dir):
    """A build of its own, for a test that changes the inbox or builds again."""
    shutil.copytree(sdk_runs_dir, data_env.wandb_dirs[0], dirs_exist_ok=True, symlinks=True)
    report = build(defs(), instance, data_env)
    return data_env, report


@pytest.fixture(scope="module")
def built_once(tmp_path_factory, sdk_runs_dir):
    """One build shared by the tests that only read what it wrote (a build costs seconds)."""
    root = tmp_path_factory.mktemp("built_once")
    with pytest.MonkeyPatch.context() as env, dg.DagsterInstance.ephemeral() as instance:
        for name, folder in (("DIPLO_WANDB_DIR", "wandb"), ("DIPLO_AXIOM_DIR", "axiom"), ("DIPLO_SWEEP_DIR", "sweeps")):
            (root / "inbox" / folder).mkdir(parents=True)
            env.setenv(name, str(root / "inbox" / folder))
        env.setenv("DIPLO_DATA_DIR", str(root / "data"))
        paths = DataPaths.from_env()
        shutil.copytree(sdk_runs_dir, paths.wandb_dirs[0], dirs_exist_ok=True, symlinks=True)
        return paths, build(defs(), instance, paths)


def _query(catalog: Path, sql: str) -> list[tuple]:
    with duckdb_session(catalog, read_only=True) as con:
        return con.execute(sql).fetchall()


def test_runs_states_and_steps(built_once):
    paths, report = built_once
    assert sorted(report.runs_changed) == sorted(RUNS)
    rows = {r[0]: r[1:] for r in _query(paths.catalog, "select run_id, run_name, state, last_step, resumed from runs")}
    assert rows["fini0001"] == (RUNS["fini0001"], "finished", 29, False)
    assert rows["crsh0001"] == (RUNS["crsh0001"], "crashed", 57, False)
    assert rows["resm0001"] == (RUNS["resm0001"], "finished", 59, True)
    created = "select created_at = '2025-12-22 19:00:00+00' from runs where run_id='edge0001'"
    assert _query(paths.catalog, created) == [(True,)]


def test_resumed_run_has_each_step_once_and_the_later_write_wins(built_once):
    paths, _ = built_once
    steps = _query(paths.catalog, "select step, loss from run_steps where run_id = 'resm0001' order by step")
    assert [s for s, _ in steps] == list(range(60))
    losses = dict(steps)
    for step in range(40, 48):  # logged twice: the resumed process wrote loss + 1.0
        assert losses[step] == pytest.approx(1.05 + step / 1000)
    assert losses[39] == pytest.approx(0.05 + 39 / 1000)
    twice = _query(paths.catalog, "select count(*) from metric_points where run_id='resm0001' "
                                  "and key='benchmark/loss' and step between 40 and 47")
    assert twice == [(16,)]  # both writes are kept in the long table; run_steps picks the later


def test_edge_case_values(built_once):
    paths, _ = built_once
    points = {
        (step, key): (value, text)
        for step, key, value, text in _query(
            paths.catalog, "select step, key, value, value_text from metric_points where run_id = 'edge0001'"
        )
    }
    assert math.isnan(points[(3, "benchmark/loss")][0]) and points[(3, "benchmark/loss")][1] == "NaN"
    assert points[(4, "ppo/is_ratio_max")] == (math.inf, "Infinity")
    assert points[(2, "benchmark/used_cached_ref_logprobs")] == (None, "true")
    assert points[(0, "profiling_mode")] == (None, "rollout")
    assert points[(0, "trace_dir")] == (None, None)
    assert points[(1, "nested.b.c")] == (0.5, None)
    assert '"_type": "table-file"' in points[(20, "games")][1]
    assert '"_type": "histogram"' in points[(20, "hist")][1]
    sparse = sorted(s for (s, k) in points if k == "elo/grpo-20251222-190000_adapter_v0")
    assert sparse == [0, 5, 20]  # each value keeps its own step
    steps = [s for (s,) in _query(paths.catalog, "select step from run_steps where run_id='edge0001' order by step")]
    assert steps == list(range(10)) + list(range(20, 25))  # the jump is kept, nothing invented
    evals = _query(paths.catalog, "select step, row_kind, value from metric_points "
                                  "where run_id='edge0001' and key='benchmark/overall_score'")
    assert evals == [(20, "eval", 55.5)]
    config = _query(paths.catalog, "select value from run_config where run_id='edge0001' and key='pfsp_weights.peer'")
    assert config == [(0.3,)]
    throughput = _query(paths.catalog, "select trajectories_per_s, train_rollout_ratio from run_steps "
                                       "where run_id='fini0001' and step=0")
    assert throughput == [(pytest.approx(960 / 120), pytest.approx(0.5))]


def test_build_twice_changes_nothing_and_a_new_run_is_the_only_one_read(built, instance, tmp_path):
    paths, first = built
    parquet = sorted((paths.raw / "wandb" / "metric_points").glob("*.parquet"))
    mtimes = {p.name: p.stat().st_mtime_ns for p in parquet}
    partition_files = sorted((paths.lake / "marts").glob("*/*.parquet"))
    assert {p.stem for p in partition_files} == set(RUNS)  # one file per run and partitioned table
    partition_mtimes = {p: p.stat().st_mtime_ns for p in partition_files}
    before = cursor(instance)
    second = build(defs(), instance, paths)
    assert second.runs_changed == [] and second.table_rows == first.table_rows
    assert {p.name: p.stat().st_mtime_ns for p in parquet} == mtimes
    # Nothing new: nothing at all was materialised, and the report is the first build's.
    assert second.downstream_skipped and not first.downstream_skipped
    assert materialised_since(instance, before) == {}
    assert (second.checks_failed, second.catalog_problems) == (first.checks_failed, first.catalog_problems)

    run_in_subprocess(sdk_runs.simple_run, str(paths.wandb_dirs[0]), "newr0001", "grpo-20251223-090000", 5)
    before = cursor(instance)
    third = build(defs(), instance, paths)
    assert third.runs_changed == ["newr0001"] and not third.downstream_skipped
    assert third.partitions_built == {"run_id": ["newr0001"], "day": []}  # no new Axiom event
    # Every partitioned table computed the new run's partition and no other (as the instance recorded it),
    # and the other runs' partition files were not rewritten.
    done = materialised_since(instance, before)
    per_run, per_day = ({f"{m.layer}/{m.name}" for m in PROJECT.models.values() if m.partitioned_by == dimension}
                        for dimension in ("run_id", "day"))
    assert {key: done.get(key) for key in per_run} == dict.fromkeys(per_run, ["newr0001"])
    assert not per_day & set(done)  # no Axiom event is new: no day is computed again
    assert done["raw/wandb_runs"] == ["newr0001"]
    assert {p: p.stat().st_mtime_ns for p in partition_files} == partition_mtimes
    assert {p.stat().st_mtime_ns for p in (paths.lake / "marts").glob("*/newr0001.parquet")}
    assert {p.name: p.stat().st_mtime_ns for p in parquet} == mtimes  # the others were not re-read
    assert third.table_rows["runs"] == first.table_rows["runs"] + 1
    assert third.table_rows["run_steps"] == first.table_rows["run_steps"] + 5
    # Partitions are recorded on the instance, as the UI shows them.
    assert "newr0001" in instance.get_dynamic_partitions("wandb_runs")


def _latest_metadata(instance: dg.DagsterInstance, key: str, after: int) -> dict:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey.from_user_string(key), after_storage_id=after), limit=1
    ).records
    return {name: value.value for name, value in records[0].asset_materialization.metadata.items()}


def test_a_new_run_renders_its_own_report_page_and_computes_its_own_findings_only(built, instance):
    paths, _ = built
    run_pages = paths.reports / "runs"
    pages = {p: p.stat().st_mtime_ns for p in run_pages.iterdir()}
    assert {p.stem for p in pages} == set(RUNS.values())
    findings = paths.lake / "marts" / "findings.parquet"
    old_findings = pl.read_parquet(findings)
    assert "crsh0001" in set(old_findings["run_id"])  # the crashed run is flagged: rows to keep

    run_in_subprocess(sdk_runs.simple_run, str(paths.wandb_dirs[0]), "newr0002", "grpo-20251223-110000", 5)
    before = cursor(instance)
    report = build(defs(), instance, paths)
    assert report.runs_changed == ["newr0002"]
    # The run reports read and rendered the new run's page alone; every other page's files are untouched.
    rendered = _latest_metadata(instance, "reports/run_reports", before)
    assert rendered["pages_rendered"] == 1 and rendered["runs"] == len(RUNS) + 1
    assert {p: p.stat().st_mtime_ns for p in pages} == pages
    assert {p.stem for p in run_pages.iterdir()} == {*RUNS.values(), "grpo-20251223-110000"}
    assert "grpo-20251223-110000" in (paths.reports / "tracker.md").read_text()
    # Findings were computed for the new run only; every other run's rows are the ones the last build wrote.
    assert _latest_metadata(instance, "marts/findings", before)["runs_computed"] == 1
    assert pl.read_parquet(findings).filter(pl.col("run_id") != "newr0002").equals(old_findings)


def test_a_still_growing_run_is_running(built, instance):
    paths, _ = built
    target = next(paths.wandb_dirs[0].rglob("run-crsh0001.wandb"))
    target.touch()  # the writer just appended
    before = cursor(instance)
    report = build(defs(), instance, paths)
    assert report.runs_changed == ["crsh0001"]
    # Only that run's partitions were computed again (through the Dagster instance, as the UI shows them).
    done = materialised_since(instance, before)
    assert done["marts/run_steps"] == done["marts/elo_gap"] == done["raw/wandb_runs"] == ["crsh0001"]
    assert _query(paths.catalog, "select state from runs where run_id='crsh0001'") == [("running",)]


def test_the_sensors_one_run_takes_a_grown_run_to_its_page_and_recomputes_no_other_run(built, instance, monkeypatch):
    """A step appended to a run: `wandb_offline_runs_sensor` asks for that run's partition, and the run it
    asks for (executed in-process, as the daemon executes it: the definitions' in-process executor) ingests
    it, computes that run's per-run partitions and no other, and brings the whole tables, findings, catalog
    and that run's page up to date. While a run of the sensor is unfinished it asks for nothing more."""
    from bench.wandb_copy import append_step
    from diplo_pipeline.defs.wandb import sensors
    from diplo_pipeline.defs.wandb.sensors import DAY_PARTITIONED, OFFLINE_SENSOR, RUN_AND_WHAT_FOLLOWS

    paths, _ = built
    definitions = defs()
    assert definitions.executor.name == "in_process"
    sensor = next(s for s in definitions.sensors if s.name == OFFLINE_SENSOR)
    pages = {p: p.stat().st_mtime_ns for p in (paths.reports / "runs").glob("*.html")}
    page = paths.reports / "runs" / f"{RUNS['crsh0001']}.html"
    grows = next(paths.wandb_dirs[0].rglob("run-crsh0001.wandb"))
    step = append_step(grows)
    with dg.build_sensor_context(instance=instance, resources=definitions.resources) as context:
        [request] = sensor(context).run_requests
    assert request.partition_key == "crsh0001"

    before = cursor(instance)
    job = definitions.resolve_job_def(sensor.job_name)  # what the daemon launches for the sensor
    result = job.execute_in_process(instance=instance, partition_key=request.partition_key, raise_on_error=False)
    assert result.success
    done = materialised_since(instance, before)
    graph = definitions.resolve_asset_graph()
    per_run = {k.to_user_string() for k in RUN_AND_WHAT_FOLLOWS.resolve(graph) if graph.get(k).partitions_def}
    assert {key for key, partitions in done.items() if partitions == ["crsh0001"]} == per_run
    assert {"marts/findings", "reports/run_reports", "warehouse/catalog"} <= {
        key for key, partitions in done.items() if partitions == [None]}
    assert not {k.to_user_string() for k in DAY_PARTITIONED.resolve(graph)} & set(done)
    assert _query(paths.catalog, "select max(step) from run_steps where run_id = 'crsh0001'") == [(step,)]
    assert page.stat().st_mtime_ns != pages[page]
    # Pages are rendered when their inputs change, as in `diplo build` (which re-renders these same three: the
    # crashed run now runs, and two others compare themselves with it); the resumed run's page is untouched.
    untouched = paths.reports / "runs" / f"{RUNS['resm0001']}.html"
    assert untouched.stat().st_mtime_ns == pages[untouched]

    # The file grows again while a run of the sensor is in progress: nothing is asked for until it has finished.
    waiting = instance.add_run(dg.DagsterRun(job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTED,
                                             tags={"dagster/sensor_name": OFFLINE_SENSOR}))
    grown = append_step(grows)
    with dg.build_sensor_context(instance=instance, resources=definitions.resources) as context:
        assert f"run {waiting.run_id} has not finished" in sensor(context).skip_reason.skip_message
    # A run left "started" longer than IN_FLIGHT_AT_MOST (its worker died) no longer holds it back.
    monkeypatch.setattr(sensors, "IN_FLIGHT_AT_MOST", timedelta(seconds=-60))
    with dg.build_sensor_context(instance=instance, resources=definitions.resources) as context:
        assert [r.partition_key for r in sensor(context).run_requests] == ["crsh0001"]
    assert grown == step + 1


def test_a_reader_holding_the_catalog_never_blocks_a_build(built, instance):
    paths, _ = built
    duckdb_cli = Path(sys.executable).parent / "duckdb"
    reader = subprocess.Popen(
        [str(duckdb_cli), str(paths.catalog), "-readonly"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        reader.stdin.write("select 'before', count(*) from runs;\n")
        reader.stdin.flush()
        time.sleep(0.5)
        run_in_subprocess(sdk_runs.simple_run, str(paths.wandb_dirs[0]), "late0001", "grpo-20251223-100000", 3)
        started = time.perf_counter()
        report = build(defs(), instance, paths)  # must not wait for, or fail on, the open reader
        assert time.perf_counter() - started < 60
        assert report.runs_changed == ["late0001"]
        reader.stdin.write("select 'after', count(*) from runs;\n")
        out, err = reader.communicate(timeout=30)
    finally:
        reader.kill()
    assert "Error" not in err
    assert "before" in out and "after" in out  # the old snapshot stayed readable throughout
    assert _query(paths.catalog, "select count(*) from runs") == [(len(RUNS) + 1,)]


def test_catalog_views_work_from_any_directory(built_once, tmp_path, monkeypatch):
    paths, _ = built_once
    monkeypatch.chdir(tmp_path)  # views hold absolute paths
    assert _query(paths.catalog, "select count(*) from metric_points")[0][0] > 0


def test_axiom_quarantine_is_counted_by_the_asset_check(data_env, instance):
    inbox = data_env.axiom_dirs[0]
    good = '{"_time":"2025-12-22T19:14:08Z","event":"rollout_start","rollout_id":"g1"}'
    (inbox / "x.ndjson").write_text(good + "\nnot json at all\n" + '{"event":"orders_empty"}\n')
    report = build(defs(), instance, data_env)
    check = "raw/axiom_export_files:no_quarantined_axiom_lines"
    assert check in report.checks_failed
    assert report.check_metadata[check]["quarantined"] == 2
    assert report.table_rows["axiom_events"] == 1
    quarantined = (data_env.quarantine / "axiom").glob("*.ndjson")
    assert sum(len(p.read_text().splitlines()) for p in quarantined) == 2
    # Fixing the file clears the quarantine on the next build.
    (inbox / "x.ndjson").write_text(good + "\n")
    fixed = build(defs(), instance, data_env)
    assert check not in fixed.checks_failed and fixed.check_metadata[check]["quarantined"] == 0


def test_sensor_requests_exactly_the_new_run(data_env, instance, sdk_runs_dir):
    shutil.copytree(sdk_runs_dir, data_env.wandb_dirs[0], dirs_exist_ok=True, symlinks=True)
    definitions = defs()
    sensor = next(s for s in definitions.sensors if s.name == "wandb_offline_runs_sensor")
    build(definitions, instance, data_env)
    run_in_subprocess(sdk_runs.simple_run, str(data_env.wandb_dirs[0]), "sens0001", "grpo-20251224-090000", 3)
    # Direct invocation does not take the definitions' resources on its own (the code server does): pass them.
    with dg.build_sensor_context(instance=instance, resources=definitions.resources) as context:
        result = sensor(context)
    assert [r.partition_key for r in result.run_requests] == ["sens0001"]
    assert result.dynamic_partitions_requests[0].partition_keys == ["sens0001"]


def test_definitions_load_with_dg_check_defs():
    dg.Definitions.validate_loadable(defs())
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([str(Path(sys.executable).parent / "dg"), "check", "defs"], cwd=root,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "All definitions loaded successfully" in done.stdout + done.stderr


def test_unreadable_sweep_definition_is_quarantined(data_env, instance):
    sweeps = data_env.sweep_dir
    (sweeps / "good").mkdir(parents=True)
    (sweeps / "good" / "sweep.yaml").write_text(
        "metadata:\n  name: lr-sweep\n  experiment_tag_prefix: lr\n  hypothesis: lower is steadier\n"
        "runs:\n  A:\n    config:\n      experiment_tag: ${metadata.experiment_tag_prefix}-A-base\n"
        "analysis:\n  expected_ranking: [A]\n  success_criteria: ['kl/max < 10']\n"
    )
    (sweeps / "bad").mkdir()
    (sweeps / "bad" / "sweep.yaml").write_text("metadata: [unclosed\n")
    report = build(defs(), instance, data_env)
    check = "raw/sweep_definitions:sweep_definitions_readable"
    assert check in report.checks_failed and report.check_metadata[check]["quarantined"] == 1
    rows = _query(data_env.catalog, "select sweep_name, runs, expected_ranking from raw_sweeps__definitions")
    assert rows[0][0] == "lr-sweep" and rows[0][2] == ["A"]
    assert '"experiment_tag": "lr-A-base"' in rows[0][1]  # ${metadata.…} resolved as the trainer does


def test_a_run_page_counts_only_the_events_the_catalog_attributes_to_its_run(data_env, instance):
    """Two runs at the same time: an inference call inside both windows belongs to neither (ambiguous). A
    page is rendered on a connection holding its own run's partitions only, where only that run's window is
    seen; the page must still count what the catalog counts, not claim the call for its run."""
    from diplo_pipeline.defs.reports.assets import RUN_TABLES, _index_connection, _runs_loader
    from diplo_pipeline.defs.resources import DiploData
    from diplo_pipeline.lib.reports.data import Warehouse

    for run_id in ("over0001", "over0002"):  # both start at sdk_runs.START: their windows overlap
        run_in_subprocess(sdk_runs.simple_run, str(data_env.wandb_dirs[0]), run_id, f"grpo-{run_id}", 4)
    set_mtime(data_env.wandb_dirs[0], sdk_runs.START + 86400)
    call = {"_time": "2025-12-22T19:01:00Z", "event": "inference_timing_breakdown", "batch_size": 8,
            "lora_name": "mixed:2_adapters", "adapter_load_time_s": 0.1, "generation_time_s": 2.0,
            "total_time_s": 2.2, "tokens_generated": 400, "tokens_per_second": 181.8, "prompt_tokens": 900,
            "input_tokens_per_second": 450.0, "output_tokens_per_second": 200.0, "prefix_cache_hit_rate": None}
    (data_env.axiom_dirs[0] / "calls.ndjson").write_text(json.dumps(call) + "\n")
    build(defs(), instance, data_env)
    attributed = "select count(*) from int_axiom__event_runs where run_name = 'grpo-over0001'"
    assert _query(data_env.catalog, "select attribution from int_axiom__event_runs") == [("ambiguous",)]
    assert _query(data_env.catalog, attributed) == [(0,)]

    diplo = DiploData.of(data_env)
    with _index_connection(diplo, ("runs", "int_axiom__event_runs")) as index:
        with _runs_loader(diplo, RUN_TABLES, Warehouse(index))(["over0001"]) as page:
            assert page.con.execute(attributed).fetchall() == [(0,)]
        # what the page's own connection would say on its own: the one window it holds claims the call
        with _runs_loader(diplo, RUN_TABLES)(["over0001"]) as alone:
            assert alone.con.execute(attributed).fetchall() == [(1,)]
