"""The nightly rebuild: every whole table, mart and report downstream of the raw data, so reports and checks
are fresh each morning even when nothing new arrived (new data is followed by defs/automation.py as it
lands). The per-run models are left out: a run's partition changes only when that run does, and automation
follows it."""

import os

import dagster as dg

from diplo_pipeline.defs.automation import downstream
from diplo_pipeline.defs.keys import AXIOM_EXPORT_FILES, SWEEP_DEFINITIONS
from diplo_pipeline.defs.warehouse.sql_models import partitioned_models

nightly_rebuild = dg.ScheduleDefinition(
    name="nightly_rebuild",
    cron_schedule=os.environ.get("DIPLO_NIGHTLY_CRON", "0 3 * * *"),
    execution_timezone=os.environ.get("DIPLO_NIGHTLY_TZ", "UTC"),
    # A run names one partition (or range) of the partitioned assets: the per-run models cannot ride along.
    target=downstream - partitioned_models | dg.AssetSelection.assets(AXIOM_EXPORT_FILES, SWEEP_DEFINITIONS),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Rebuilds every whole table, check and report each night (DIPLO_NIGHTLY_CRON, DIPLO_NIGHTLY_TZ); "
    "the per-run tables follow their runs.",
)
