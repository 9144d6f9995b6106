"""The nightly rebuild: everything downstream of the raw data, so reports and checks are fresh each
morning even when nothing new arrived (new data is followed by defs/automation.py as it lands)."""

import os

import dagster as dg

from diplo_pipeline.defs.automation import downstream
from diplo_pipeline.defs.keys import AXIOM_EXPORT_FILES, SWEEP_DEFINITIONS

nightly_rebuild = dg.ScheduleDefinition(
    name="nightly_rebuild",
    cron_schedule=os.environ.get("DIPLO_NIGHTLY_CRON", "0 3 * * *"),
    execution_timezone=os.environ.get("DIPLO_NIGHTLY_TZ", "UTC"),
    target=downstream | dg.AssetSelection.assets(AXIOM_EXPORT_FILES, SWEEP_DEFINITIONS),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Rebuilds every table, check and report each night (DIPLO_NIGHTLY_CRON, DIPLO_NIGHTLY_TZ).",
)
