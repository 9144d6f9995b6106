"""Partitions: one per WandB run (keyed by run id) and one per UTC day of Axiom events.

Both are dynamic: run ids come from the files, and days come from the events themselves (an export may
hold any date), so no calendar has to be guessed in advance.
"""

import dagster as dg

wandb_runs_partitions = dg.DynamicPartitionsDefinition(name="wandb_runs")
axiom_days_partitions = dg.DynamicPartitionsDefinition(name="axiom_days")

# The partitions of the SQL models by the dimension their YAML names (`partitioned_by`): the same partitions
# as the raw data they are computed from, so a run's (or a day's) partition follows its raw partition.
PARTITIONS_BY_DIMENSION = {"run_id": wandb_runs_partitions, "day": axiom_days_partitions}

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def contiguous_range_tags(all_keys: list[str], wanted: list[str]) -> dict[str, str]:
    """Run tags that target the span of `wanted` within the partition order, in ONE run.

    A Dagster run covers a contiguous range of partitions; the assets skip keys inside the span that have
    nothing to do, so one process handles many partitions instead of one process per partition.
    """
    positions = sorted(all_keys.index(k) for k in wanted)
    return {RANGE_START: all_keys[positions[0]], RANGE_END: all_keys[positions[-1]]}
