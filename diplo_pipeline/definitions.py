"""The composition root: every module under `defs/` is autoloaded (Dagster 1.13 `load_from_defs_folder`)."""

import warnings
from pathlib import Path

import dagster as dg

from diplo_pipeline.defs.automation import downstream, follow_inputs_unless_blocked

# `Definitions.map_resolved_asset_specs` is the documented way to give a selection one automation condition,
# and it is marked preview in 1.13 (the stable `dg.map_asset_specs` maps assets but cannot rebuild the
# loaded Definitions around them). Exactly its preview warning is silenced, by class and message, so any
# other warning raised while the definitions load still shows.
MAP_SPECS_PREVIEW = r"Function `Definitions\.map_resolved_asset_specs` is currently in preview"


def _follow_inputs(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Downstream assets rebuild when an input changes (not on top of a failed blocking data test), unless
    they say otherwise themselves (the catalog does)."""
    if spec.automation_condition is not None:
        return spec
    return spec.replace_attributes(automation_condition=follow_inputs_unless_blocked)


# Every run executes its steps in its own process, one after another, as `diplo build` does. Dagster's
# default for launched runs (the UI, sensors, schedules) starts a process per step: ~3 s of imports and
# definitions each, so a sensor's one-run update of 28 per-run models took 136 s on two cores, against
# ~5 s in one process. The steps gain nothing from running side by side: the heavy ones take turns in
# their pools anyway, and DuckDB uses the cores within a step.
RUNS_IN_ONE_PROCESS = dg.Definitions(executor=dg.in_process_executor)


@dg.definitions
def defs() -> dg.Definitions:
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=MAP_SPECS_PREVIEW, category=dg.PreviewWarning)
        followed = loaded.map_resolved_asset_specs(func=_follow_inputs, selection=downstream)
    return dg.Definitions.merge(followed, RUNS_IN_ONE_PROCESS)
