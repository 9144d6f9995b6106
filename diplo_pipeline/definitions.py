"""The composition root: every module under `defs/` is autoloaded (Dagster 1.13 `load_from_defs_folder`)."""

import warnings
from pathlib import Path

import dagster as dg

from diplo_pipeline.defs.automation import downstream, follow_inputs_unless_blocked


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
        # map_resolved_asset_specs is marked preview in 1.13; it is the documented way to set one
        # condition on a selection, and the pinned version keeps its behaviour stable for us.
        warnings.simplefilter("ignore")
        return loaded.map_resolved_asset_specs(func=_follow_inputs, selection=downstream)
