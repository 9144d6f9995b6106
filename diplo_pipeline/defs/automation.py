"""Declarative automation, so downstream tables and reports follow their inputs.

New or changed WandB runs and Axiom exports are picked up by the sensors in defs/wandb and defs/axiom;
once they land, the automation sensor materialises what depends on them: every downstream asset is
eager, held back below a failed blocking data test (`follow_inputs_unless_blocked`, given in
definitions.py to each downstream asset that does not set a condition itself), and the catalog publishes
regardless (`publish_after_inputs`, set on the asset). The nightly rebuild is in defs/schedules.py.
"""

import dagster as dg

DOWNSTREAM_GROUPS = ("staging", "intermediate", "marts", "warehouse", "reports")
downstream = dg.AssetSelection.groups(*DOWNSTREAM_GROUPS)

# Tables and reports rebuild when an input changed, but never on top of a table whose blocking data test
# failed (in the same run Dagster skips them; this keeps a later tick from building them anyway).
follow_inputs_unless_blocked = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("eager_unless_blocked")

# The catalog publishes after any input changed, even when an input is missing or failed a blocking test
# (lib/warehouse/catalog_status.py says what it serves instead). A blocking failure in its own run skips it
# there; its inputs then count as updated since it was last handled, so the next tick publishes it in a run
# of its own.
publish_after_inputs = (
    (dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated()).since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("publish_after_inputs")

follow_inputs = dg.AutomationConditionSensorDefinition(
    "downstream_follows_inputs",
    target=downstream,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,  # Dagster's default: after an ingest, its downstream starts within 30 s
    description="Materialises tables and reports whose inputs changed (declarative automation, eager).",
)
