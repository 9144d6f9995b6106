"""The sensors: off without their secret, what they request when on (they never call the clouds themselves;
the assets they request do), and that they follow the resources their assets use, not the environment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from diplo_pipeline.defs.axiom.live import axiom_apl_sensor, axiom_today_refresh
from diplo_pipeline.defs.axiom.sensors import axiom_exports_sensor
from diplo_pipeline.defs.keys import AXIOM_APL, AXIOM_EXPORT_FILES, WANDB_API_LISTING, WANDB_RUNS
from diplo_pipeline.defs.partitions import (
    RANGE_END,
    RANGE_START,
    axiom_days_partitions,
    wandb_runs_partitions,
)
from diplo_pipeline.defs.resources import AxiomApi, DiploData, WandbApi
from diplo_pipeline.defs.wandb.sensors import wandb_api_sensor, wandb_offline_runs_sensor
from diplo_pipeline.lib.wandb.api_runs import ApiRun
from diplo_pipeline.lib.wandb.api_sync import Listing


def default_resources(**overrides) -> dict:
    """The resources as defs/resources.py registers them (each reads the environment when used)."""
    return {"diplo": DiploData(), "wandb_api": WandbApi(), "axiom_api": AxiomApi(), **overrides}


def evaluate(sensor, instance, cursor=None, **resources):
    # closed on return: a context left open keeps the instance's state storage as the current one, and a later
    # test's definitions load would read it after the instance is gone
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=default_resources(**resources)) as context:
        return sensor(context)


def skipped(result: dg.SensorResult) -> str:
    return result.skip_reason.skip_message if result.skip_reason else ""


def tick(schedule, instance, **resources):
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime.now(UTC),
                                   resources=default_resources(**resources)) as context:
        return schedule(context)


def test_sensors_are_off_without_their_secrets(data_env, persistent_instance, monkeypatch):
    instance = persistent_instance
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("AXIOM_TOKEN", raising=False)
    assert "WANDB_API_KEY is not set" in evaluate(wandb_api_sensor, instance).skip_reason.skip_message
    assert "AXIOM_TOKEN is not set" in evaluate(axiom_apl_sensor, instance).skip_reason.skip_message
    assert "AXIOM_TOKEN is not set" in tick(axiom_today_refresh, instance).skip_message


@pytest.fixture
def persistent_instance():
    """Schedules open the instance from its reference, which an ephemeral instance does not have."""
    with dg.instance_for_test() as instance:
        yield instance


def test_axiom_sensor_requests_past_days_and_the_schedule_refreshes_today(data_env, persistent_instance,
                                                                          monkeypatch):
    instance = persistent_instance
    monkeypatch.setenv("AXIOM_TOKEN", "xaat-sensor-test")
    today = datetime.now(UTC).date()
    monkeypatch.setenv("DIPLO_AXIOM_SINCE", (today - timedelta(days=2)).isoformat())
    assert "axiom_apl_sensor adds it" in tick(axiom_today_refresh, instance).skip_message

    result = evaluate(axiom_apl_sensor, instance)
    days = [(today - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    assert result.dynamic_partitions_requests[0].partition_keys == days
    assert axiom_days_partitions.name == result.dynamic_partitions_requests[0].partitions_def_name
    (request,) = result.run_requests
    assert request.asset_selection == [AXIOM_APL]
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == (days[0], days[1])  # past days only

    instance.add_dynamic_partitions(axiom_days_partitions.name, days)
    refresh = tick(axiom_today_refresh, instance)
    assert refresh.partition_key == days[-1] and refresh.asset_selection == [AXIOM_APL]


def test_wandb_sensor_lists_then_ingests_what_the_listing_found(data_env, instance, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "f" * 40)
    first = evaluate(wandb_api_sensor, instance)
    assert [r.asset_selection for r in first.run_requests] == [[WANDB_API_LISTING]]

    # What a listing run leaves behind: two runs known to WandB, their partitions added.
    listing = Listing(watermark="2025-12-22T19:00:00Z")
    for run_id in ("live0001", "live0002"):
        listing.runs[run_id] = ApiRun(run_id, "grpo-x", "running", "2025-12-22T18:00:00Z", "2025-12-22T19:00:00Z",
                                      "lab", "diplomacy-grpo")
    listing.save(data_env)
    instance.add_dynamic_partitions(wandb_runs_partitions.name, ["live0001", "live0002"])
    second = evaluate(wandb_api_sensor, instance, cursor=first.cursor)
    (request,) = second.run_requests
    assert request.asset_selection == [WANDB_RUNS]
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("live0001", "live0002")
    # The same pending runs are not requested twice in a row: the next tick lists again.
    third = evaluate(wandb_api_sensor, instance, cursor=second.cursor)
    assert [r.asset_selection for r in third.run_requests] == [[WANDB_API_LISTING]]


def _inbox(root, run_ids: list[str], export: bool) -> DiploData:
    """Folders with `.wandb` files of `run_ids` (the sensors only stat them) and maybe one export file."""
    (root / "wandb").mkdir(parents=True)
    (root / "axiom").mkdir()
    for run_id in run_ids:
        (root / "wandb" / f"run-{run_id}.wandb").write_bytes(b"stat only")
    if export:
        (root / "axiom" / "events.ndjson").write_text('{"_time":"2025-12-22T19:14:08Z","event":"rollout_start"}\n')
    return DiploData(data_dir=str(root / "data"), wandb_dir=str(root / "wandb"), axiom_dir=str(root / "axiom"))


def test_offline_sensors_look_where_their_resource_points_whatever_the_environment_says(data_env, tmp_path,
                                                                                        instance):
    # The environment (DIPLO_* variables, data_env) names folders holding one run and one export file ...
    (data_env.wandb_dirs[0] / "run-envrun01.wandb").write_bytes(b"stat only")
    (data_env.axiom_dirs[0] / "env.ndjson").write_text('{"_time":"2025-12-22T19:14:08Z","event":"x"}\n')
    # ... and the resources point elsewhere: at two other runs, and at folders with nothing new.
    elsewhere = _inbox(tmp_path / "elsewhere", ["resrun01", "resrun02"], export=False)
    result = evaluate(wandb_offline_runs_sensor, instance, diplo=elsewhere)
    assert result.dynamic_partitions_requests[0].partition_keys == ["resrun01", "resrun02"]
    (request,) = result.run_requests
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("resrun01", "resrun02")
    assert "no new export files" in skipped(evaluate(axiom_exports_sensor, instance, diplo=elsewhere))

    empty = _inbox(tmp_path / "empty", [], export=True)
    assert "no new or changed runs" in skipped(evaluate(wandb_offline_runs_sensor, instance, diplo=empty))
    (staging,) = evaluate(axiom_exports_sensor, instance, diplo=empty).run_requests
    assert staging.asset_selection == [AXIOM_EXPORT_FILES]


def test_live_sensors_follow_the_secret_their_resource_names(data_env, persistent_instance, monkeypatch):
    instance = persistent_instance
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("AXIOM_TOKEN", raising=False)
    monkeypatch.setenv("DIPLO_TEST_WANDB_KEY", "f" * 40)
    monkeypatch.setenv("DIPLO_TEST_AXIOM_TOKEN", "xaat-sensor-test")
    wandb_api = WandbApi(api_key_variable="DIPLO_TEST_WANDB_KEY")
    axiom_api = AxiomApi(token_variable="DIPLO_TEST_AXIOM_TOKEN")
    listing = evaluate(wandb_api_sensor, instance, wandb_api=wandb_api)
    assert [r.asset_selection for r in listing.run_requests] == [[WANDB_API_LISTING]]
    (added,) = evaluate(axiom_apl_sensor, instance, axiom_api=axiom_api).dynamic_partitions_requests
    assert datetime.now(UTC).date().isoformat() in added.partition_keys
    assert "axiom_apl_sensor adds it" in tick(axiom_today_refresh, instance, axiom_api=axiom_api).skip_message
    # The same variables set, the resources naming the usual ones: off, whatever else the environment holds.
    assert "WANDB_API_KEY is not set" in skipped(evaluate(wandb_api_sensor, instance))
    assert "AXIOM_TOKEN is not set" in skipped(evaluate(axiom_apl_sensor, instance))
    assert "AXIOM_TOKEN is not set" in tick(axiom_today_refresh, instance).skip_message
