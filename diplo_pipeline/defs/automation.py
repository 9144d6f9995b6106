"""The nightly rebuild, and declarative automation so downstream tables and reports follow their inputs.

New or changed WandB runs and Axiom exports are picked up by the sensors in defs/wandb and defs/axiom;
once they land, the automation sensor materialises what depends on them (eager conditions, set on every
downstream asset in definitions.py, held back below a failed blocking data test; the catalog publishes
regardless). The nightly schedule rebuilds everything downstream of the raw data
anyway, so reports and checks are fresh each morning even when nothing new arrived.
"""

import os

import dagster as dg

DOWNSTREAM_GROUPS = ("staging", "intermediate", "marts", "warehouse", "reports")
downstream = dg.AssetSelection.groups(*DOWNSTREAM_GROUPS)

# Tables and reports rebuild when an input changed, but never on top of a table whose blocking data test
# failed (in the same run Dagster skips them; this keeps a later tick from building them anyway).
follow_inputs_unless_blocked = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("eager_unless_blocked")

# The catalog publishes after any input changed, even when an input is missing or failed a blocking test
# (lib/warehouse/catalog_status.py says what it serves instead). A blocking failure in its own run skips it there; its
# inputs then count as updated since it was last handled, so the next tick publishes it in a run of its own.
publish_after_inputs = (
    (dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated()).since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("publish_after_inputs")

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
