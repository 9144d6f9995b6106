"""The live sources' sensors: off without their secret, and what they request when on (they never call
the clouds themselves; the assets they request do)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from diplo_pipeline.defs.axiom.live import axiom_apl_sensor, axiom_today_refresh
from diplo_pipeline.defs.partitions import (
    RANGE_END,
    RANGE_START,
    axiom_days_partitions,
    wandb_runs_partitions,
)
from diplo_pipeline.defs.wandb.sensors import wandb_api_sensor
from diplo_pipeline.lib.wandb.api_client import ApiRun
from diplo_pipeline.lib.wandb.api_sync import Listing


def evaluate(sensor, instance, cursor=None):
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor))


def test_sensors_are_off_without_their_secrets(data_env, persistent_instance, monkeypatch):
    instance = persistent_instance
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("AXIOM_TOKEN", raising=False)
    assert "WANDB_API_KEY is not set" in evaluate(wandb_api_sensor, instance).skip_reason.skip_message
    assert "AXIOM_TOKEN is not set" in evaluate(axiom_apl_sensor, instance).skip_reason.skip_message
    schedule_context = dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime.now(UTC))
    assert "AXIOM_TOKEN is not set" in axiom_today_refresh(schedule_context).skip_message


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
    schedule_context = dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime.now(UTC))
    assert "axiom_apl_sensor adds it" in axiom_today_refresh(schedule_context).skip_message

    result = evaluate(axiom_apl_sensor, instance)
    days = [(today - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    assert result.dynamic_partitions_requests[0].partition_keys == days
    assert axiom_days_partitions.name == result.dynamic_partitions_requests[0].partitions_def_name
    (request,) = result.run_requests
    assert request.asset_selection == [dg.AssetKey(["raw", "axiom_apl"])]
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == (days[0], days[1])  # past days only

    instance.add_dynamic_partitions(axiom_days_partitions.name, days)
    refresh = axiom_today_refresh(schedule_context)
    assert refresh.partition_key == days[-1] and refresh.asset_selection == [dg.AssetKey(["raw", "axiom_apl"])]


def test_wandb_sensor_lists_then_ingests_what_the_listing_found(data_env, instance, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "f" * 40)
    first = evaluate(wandb_api_sensor, instance)
    assert [r.asset_selection for r in first.run_requests] == [[dg.AssetKey(["raw", "wandb_api_listing"])]]

    # What a listing run leaves behind: two runs known to WandB, their partitions added.
    listing = Listing(watermark="2025-12-22T19:00:00Z")
    for run_id in ("live0001", "live0002"):
        listing.runs[run_id] = ApiRun(run_id, "grpo-x", "running", "2025-12-22T18:00:00Z", "2025-12-22T19:00:00Z",
                                      "lab", "diplomacy-grpo")
    listing.save(data_env)
    instance.add_dynamic_partitions(wandb_runs_partitions.name, ["live0001", "live0002"])
    second = evaluate(wandb_api_sensor, instance, cursor=first.cursor)
    (request,) = second.run_requests
    assert request.asset_selection == [dg.AssetKey(["raw", "wandb_runs"])]
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("live0001", "live0002")
    # The same pending runs are not requested twice in a row: the next tick lists again.
    third = evaluate(wandb_api_sensor, instance, cursor=second.cursor)
    assert [r.asset_selection for r in third.run_requests] == [[dg.AssetKey(["raw", "wandb_api_listing"])]]
