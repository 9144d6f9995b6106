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


@dg.definitions
def defs() -> dg.Definitions:
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=MAP_SPECS_PREVIEW, category=dg.PreviewWarning)
        return loaded.map_resolved_asset_specs(func=_follow_inputs, selection=downstream)
