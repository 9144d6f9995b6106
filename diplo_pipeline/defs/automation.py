"""The nightly rebuild, and declarative automation so downstream tables and reports follow their inputs.

New or changed WandB runs and Axiom exports are picked up by the sensors in defs/wandb and defs/axiom;
once they land, the automation sensor materialises what depends on them (eager conditions, set on every
downstream asset in definitions.py). The nightly schedule rebuilds everything downstream of the raw data
anyway, so reports and checks are fresh each morning even when nothing new arrived.
"""

import os

import dagster as dg

DOWNSTREAM_GROUPS = ("staging", "intermediate", "marts", "warehouse", "reports")
downstream = dg.AssetSelection.groups(*DOWNSTREAM_GROUPS)

nightly_rebuild = dg.ScheduleDefinition(
    name="nightly_rebuild",
    cron_schedule=os.environ.get("DIPLO_NIGHTLY_CRON", "0 3 * * *"),
    execution_timezone=os.environ.get("DIPLO_NIGHTLY_TZ", "UTC"),
    target=downstream
    | dg.AssetSelection.assets(dg.AssetKey(["raw", "axiom_export_files"]), dg.AssetKey(["raw", "sweep_definitions"])),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Rebuilds every table, check and report each night (DIPLO_NIGHTLY_CRON, DIPLO_NIGHTLY_TZ).",
)

follow_inputs = dg.AutomationConditionSensorDefinition(
    "downstream_follows_inputs",
    target=downstream,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Materialises tables and reports whose inputs changed (declarative automation, eager).",
)
