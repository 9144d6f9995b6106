"""The nightly schedule, declarative automation, and the real Dagster webserver driving a materialisation."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import dagster as dg

from diplo_pipeline.definitions import defs
from diplo_pipeline.defs.automation import DOWNSTREAM_GROUPS, follow_inputs_unless_blocked, publish_after_inputs
from diplo_pipeline.defs.keys import CATALOG, WANDB_RUNS

ROOT = Path(__file__).resolve().parents[2]


def test_nightly_schedule_is_on_in_utc_and_targets_everything_downstream():
    definitions = defs()
    schedule = next(s for s in definitions.schedules if s.name == "nightly_rebuild")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.execution_timezone == "UTC" and schedule.cron_schedule == "0 3 * * *"
    with dg.DagsterInstance.ephemeral() as instance:
        with dg.build_schedule_context(instance=instance) as context:
            result = schedule.evaluate_tick(context)
    assert len(result.run_requests) == 1
    targeted = set(definitions.resolve_job_def(schedule.job_name).asset_layer.executable_asset_keys)
    graph = definitions.resolve_asset_graph()
    whole = {k for k in graph.get_all_asset_keys() if graph.get(k).partitions_def is None}
    expected = {k for k in whole if graph.get(k).group_name in {"marts", "warehouse", "reports"}}
    assert expected <= targeted
    # The per-run tables are not in it: a run that names no partition could not build them.
    assert not {k for k in targeted if graph.get(k).partitions_def is not None}


def test_schedule_cron_and_timezone_are_configurable(monkeypatch):
    monkeypatch.setenv("DIPLO_NIGHTLY_CRON", "30 1 * * *")
    monkeypatch.setenv("DIPLO_NIGHTLY_TZ", "Europe/London")
    code = ("from diplo_pipeline.defs.schedules import nightly_rebuild as s; "
            "print(s.cron_schedule, s.execution_timezone)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["30", "1", "*", "*", "*", "Europe/London"]


def test_downstream_assets_follow_their_inputs():
    graph = defs().resolve_asset_graph()
    for key in (["marts", "run_steps"], ["staging", "stg_axiom__events"], ["reports", "run_reports"]):
        condition = graph.get(dg.AssetKey(key)).automation_condition
        assert condition is not None and condition.get_label() == follow_inputs_unless_blocked.get_label()
    # The catalog publishes even below a failed blocking test (tests/test_blocking_checks.py shows it).
    catalog = graph.get(CATALOG).automation_condition
    assert catalog is not None and catalog.get_label() == publish_after_inputs.get_label()
    assert graph.get(WANDB_RUNS).automation_condition is None  # sensors drive ingestion
    sensors = {s.name: s for s in defs().sensors}
    for name in ("downstream_follows_inputs", "wandb_offline_runs_sensor", "axiom_exports_sensor"):
        assert sensors[name].default_status == dg.DefaultSensorStatus.RUNNING


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
    except urllib.error.HTTPError as exc:  # GraphQL answers a bad query with 500 and says why in the body
        raise AssertionError(exc.read().decode()[:3000]) from None
    assert "errors" not in payload, payload.get("errors")
    return payload["data"]


DRY_RUN = """
mutation DryRun($selector: SensorSelector!) {
  sensorDryRun(selectorData: $selector, cursor: null) {
    __typename
    ... on DryRunInstigationTick {
      evaluationResult { skipReason error { message } dynamicPartitionsRequests { partitionKeys } }
    }
    ... on PythonError { message }
  }
}"""


def _dry_run(port: int, sensor: str) -> dict:
    selector = {"repositoryLocationName": "diplo_pipeline", "repositoryName": "__repository__", "sensorName": sensor}
    answer = _graphql(port, DRY_RUN, {"selector": selector})["sensorDryRun"]
    assert answer["__typename"] == "DryRunInstigationTick", answer
    return answer["evaluationResult"]


LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
  }
}"""


def test_webserver_serves_the_graph_and_runs_a_materialisation(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    # No daemon here: runs launch straight from the webserver.
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nrun_coordinator:\n  module: dagster._core.run_coordinator\n"
        "  class: DefaultRunCoordinator\n"
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "run-grpc0001.wandb").write_bytes(b"the sensor only stats it")
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_API_KEY", "AXIOM_TOKEN")}
    env.update({"DAGSTER_HOME": str(home), "DIPLO_DATA_DIR": str(tmp_path / "data"),
                "DIPLO_WANDB_DIR": str(inbox), "DIPLO_AXIOM_DIR": str(tmp_path / "none")})
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-webserver"), "-w", str(ROOT / "workspace.yaml"),
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()[-3000:]
                assert time.monotonic() < deadline, "webserver did not come up"
                time.sleep(1)
        nodes = _graphql(port, "{ assetNodes { assetKey { path } groupName } }")["assetNodes"]
        groups = {tuple(n["assetKey"]["path"]): n["groupName"] for n in nodes}
        assert groups[("marts", "rollouts")] == "marts" and groups[("raw", "wandb_runs")] == "sources"
        assert groups[("warehouse", "catalog")] == "warehouse"

        # Sensors evaluated by the code server, as the daemon does: it hands them their resources.
        offline = _dry_run(port, "wandb_offline_runs_sensor")
        assert offline["error"] is None, offline["error"]
        assert [r["partitionKeys"] for r in offline["dynamicPartitionsRequests"]] == [["grpc0001"]]
        assert "WANDB_API_KEY is not set" in _dry_run(port, "wandb_api_sensor")["skipReason"]

        launched = _graphql(port, LAUNCH, {"params": {
            "selector": {"repositoryLocationName": "diplo_pipeline", "repositoryName": "__repository__",
                         "jobName": "__ASSET_JOB", "assetSelection": [{"path": ["warehouse", "catalog"]}]},
        }})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        status_query = "query S($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
        deadline = time.monotonic() + 180
        while (status := _graphql(port, status_query, {"id": run_id})["runOrError"]["status"]) not in (
            "SUCCESS", "FAILURE", "CANCELED"
        ):
            assert time.monotonic() < deadline, f"run still {status}"
            time.sleep(1)
        assert status == "SUCCESS"
        assert (tmp_path / "data" / "warehouse.duckdb").exists()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_every_downstream_asset_has_its_condition_without_the_preview_warning():
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        graph = defs().resolve_asset_graph()
    assert [f"{w.category.__name__}: {w.message}" for w in raised if "map_resolved_asset_specs" in str(w.message)] == []
    labels = {key: graph.get(key).automation_condition for key in graph.get_all_asset_keys()
              if graph.get(key).group_name in DOWNSTREAM_GROUPS}
    assert len(labels) > 30  # every SQL model, the Python marts, the reports and the catalog
    expected = {key: (publish_after_inputs if key == CATALOG else follow_inputs_unless_blocked).get_label()
                for key in labels}
    assert {key: c.get_label() if c else None for key, c in labels.items()} == expected


def test_a_warning_other_than_the_preview_one_is_not_hidden(monkeypatch):
    import diplo_pipeline.definitions as composition

    def noisy(spec):
        warnings.warn("something else went wrong", UserWarning, stacklevel=1)
        return spec

    monkeypatch.setattr(composition, "_follow_inputs", noisy)
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        composition.defs()
    assert "something else went wrong" in [str(w.message) for w in raised]


def test_the_raw_tables_the_sql_reads_are_written_by_assets_keyed_in_defs_keys():
    from diplo_pipeline.defs import keys
    from diplo_pipeline.defs.warehouse.project import PROJECT

    named = {dg.AssetKey(source.asset.split("/")) for source in PROJECT.sources.values()}
    defined = {value for value in vars(keys).values() if isinstance(value, dg.AssetKey)}
    assert named <= defined
    graph = defs().resolve_asset_graph()
    assert all(graph.get(key).is_materializable for key in defined)
