"""The live sources' secrets are read when a run or a tick needs them, not when the definitions load: a code
server started before AXIOM_TOKEN (or WANDB_API_KEY) was exported picks it up on its next run, and one
started with it stops using it once it is gone. The value is in no resource config the UI shows."""

from __future__ import annotations

import dagster as dg
import pytest

from diplo_pipeline.build import LiveSources, _materialize
from diplo_pipeline.definitions import defs
from diplo_pipeline.defs.axiom.live import axiom_apl_sensor
from diplo_pipeline.defs.keys import AXIOM_APL
from diplo_pipeline.defs.partitions import axiom_days_partitions
from diplo_pipeline.lib.axiom import apl_sync
from tests.helpers.loopback.axiom_server import AxiomLoopback

DAY = "2025-12-21"
TOKEN = "xaat-5ec7e7-late-export-token"
PLANTED = [{"_time": f"{DAY}T{h:02d}:30:00Z", "event": "rollout_complete", "rollout_id": f"r{h}"} for h in range(7)]


@pytest.fixture
def axiom(data_env, monkeypatch):
    """Loopback Axiom holding seven events of DAY; the live range is that one (past) day."""
    for name in ("AXIOM_TOKEN", "WANDB_API_KEY", "AXIOM_DATASET", "AXIOM_ORG_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DIPLO_AXIOM_SINCE", DAY)
    monkeypatch.setenv("DIPLO_AXIOM_UNTIL", DAY)
    with AxiomLoopback(PLANTED, token=TOKEN) as server:
        monkeypatch.setenv("AXIOM_URL", server.url)
        yield server


def fetch_day(definitions: dg.Definitions, instance: dg.DagsterInstance, paths) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions(axiom_days_partitions.name, [DAY])
    return _materialize(definitions, instance, [AXIOM_APL], paths, partition_key=DAY)


def test_a_token_exported_after_the_definitions_loaded_is_used_by_the_next_run(axiom, data_env, instance,
                                                                               monkeypatch):
    definitions = defs()  # loaded with AXIOM_TOKEN unset
    assert LiveSources.of(definitions) == LiveSources(wandb=False, axiom=False)
    monkeypatch.setenv("AXIOM_TOKEN", TOKEN)
    monkeypatch.setenv("WANDB_API_KEY", "f" * 40)

    assert LiveSources.of(definitions) == LiveSources(wandb=True, axiom=True)
    with dg.build_sensor_context(instance=instance, resources=definitions.resources) as context:
        sensor = axiom_apl_sensor(context)
    assert [r.asset_selection for r in sensor.run_requests] == [[AXIOM_APL]]
    result = fetch_day(definitions, instance, data_env)

    assert result.success and len(axiom.requests) == 1
    state = apl_sync.api_day_state(data_env, "diplomacy", DAY)
    assert state["complete"] and state["rows"] == len(PLANTED)
    (materialization,) = result.asset_materializations_for_node(AXIOM_APL.to_python_identifier())
    assert materialization.metadata["days_fetched"].value == 1
    assert materialization.metadata["rows_new"].value == len(PLANTED)


def test_a_token_unset_after_the_definitions_loaded_turns_the_source_off(axiom, data_env, instance, monkeypatch):
    monkeypatch.setenv("AXIOM_TOKEN", TOKEN)
    definitions = defs()
    monkeypatch.delenv("AXIOM_TOKEN")

    result = fetch_day(definitions, instance, data_env)

    assert result.success and axiom.requests == []
    (materialization,) = result.asset_materializations_for_node(AXIOM_APL.to_python_identifier())
    assert materialization.metadata["live_source"].value == "off: AXIOM_TOKEN is not set"
    assert apl_sync.api_day_state(data_env, "diplomacy", DAY) is None


def test_the_resources_config_names_the_variables_and_holds_no_secret(axiom, monkeypatch):
    monkeypatch.setenv("AXIOM_TOKEN", TOKEN)
    monkeypatch.setenv("WANDB_API_KEY", "5ec7e7" * 7)
    definitions = defs()
    config = {key: definitions.resources[key].model_dump() for key in ("wandb_api", "axiom_api")}
    assert config == {"wandb_api": {"api_key_variable": "WANDB_API_KEY"},
                      "axiom_api": {"token_variable": "AXIOM_TOKEN"}}
    # What the UI and run storage show of each resource: its config schema's defaults, built from these.
    repository = definitions.get_repository_def()
    shown = repr({key: repository.get_top_level_resources()[key].config_schema.as_field().default_value
                  for key in ("wandb_api", "axiom_api")})
    assert TOKEN not in shown and "5ec7e7" * 7 not in shown and "AXIOM_TOKEN" in shown
