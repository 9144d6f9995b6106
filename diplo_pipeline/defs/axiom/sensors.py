"""Pick up new or changed Axiom export files, then rebuild exactly the days they touched.

The sensor takes the assets' `diplo` resource, so it looks in the folders the runs it requests will read.
"""

import dagster as dg

from diplo_pipeline.defs.keys import AXIOM_EVENTS, AXIOM_EXPORT_FILES
from diplo_pipeline.defs.partitions import axiom_days_partitions, contiguous_range_tags
from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.lib.axiom import pending_days, staging


@dg.sensor(
    name="axiom_exports_sensor",
    target=dg.AssetSelection.assets(AXIOM_EXPORT_FILES, AXIOM_EVENTS),
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Stages new or changed export files; then requests the day partitions they touched.",
)
def axiom_exports_sensor(context: dg.SensorEvaluationContext, diplo: DiploData) -> dg.SensorResult:
    paths = diplo.paths()
    if staging.exports_changed(paths):
        return dg.SensorResult(
            run_requests=[dg.RunRequest(asset_selection=[AXIOM_EXPORT_FILES])],
        )
    days = pending_days.pending_days(paths)
    known = context.instance.get_dynamic_partitions(axiom_days_partitions.name)
    days = [d for d in days if d in known]
    if not days:
        return dg.SensorResult(skip_reason="no new export files and no day waiting to be rebuilt")
    tags = contiguous_range_tags(known, days)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(asset_selection=[AXIOM_EVENTS], tags=tags, run_key=",".join(days))]
    )
