"""Dagster concurrency pools of the heavy steps (`pool=` on their assets).

With several runs at once (sensors, the nightly schedule, a `diplo build` and a backfill on one PostgreSQL
instance), the ingestion steps and the SQL layer each take turns instead of all running together and
starving each other of the machine's cores, memory and DuckDB. The instance gives every pool its limit
(`concurrency: pools: default_limit`, thresholds.yml `dagster_pool_slots`, written by
lib/deploy/instance_yaml.py and deploy/); the embedded SQLite default sets none, so there a pool changes
nothing.
"""

import dagster as dg
import sqlalchemy.exc  # Dagster's storage layer: its errors are SQLAlchemy's

INGEST = "diplo_ingest"  # reading the sources into the raw lake: WandB files and API, Axiom exports and API
SQL = "diplo_sql"  # the SQL models and the Python marts over them (DuckDB over the lake)
POOLS = (INGEST, SQL)


def ensure_pool_limits(instance: dg.DagsterInstance) -> None:
    """Give every pool its limit row before any run claims a slot.

    Dagster 1.13 writes a pool's row on the first step that claims it, with an INSERT that, on PostgreSQL,
    crashes the run (not the step) when another process inserted the same row in that instant
    (dagster-io/dagster#33552): two builds starting on a fresh instance. Doing it here, first, moves that race
    out of the runs: whichever process loses it finds the row the other wrote, and no run ever needs to write it.
    """
    storage = instance.event_log_storage
    if instance.global_op_concurrency_default_limit is None or not storage.supports_global_concurrency_limits:
        return
    held = _pools_with_limits(storage)
    for pool in (p for p in POOLS if p not in held):
        try:
            storage.initialize_concurrency_limit_to_default(pool)
        except sqlalchemy.exc.DBAPIError:
            if pool not in _pools_with_limits(storage):  # not the race: the instance's database is in trouble
                raise


def _pools_with_limits(storage) -> set[str]:
    return {limit.name for limit in storage.get_pool_limits()}
