"""Dagster concurrency pools of the heavy steps (`pool=` on their assets).

With several runs at once (sensors, the nightly schedule, a `diplo build` and a backfill on one PostgreSQL
instance), the ingestion steps and the SQL layer each take turns instead of all running together and
starving each other of the machine's cores, memory and DuckDB. The instance gives every pool its limit
(`concurrency: pools: default_limit`, thresholds.yml `dagster_pool_slots`, written by
lib/deploy/instance_yaml.py and deploy/); the embedded SQLite default sets none, so there a pool changes
nothing.
"""

INGEST = "diplo_ingest"  # reading the sources into the raw lake: WandB files and API, Axiom exports and API
SQL = "diplo_sql"  # the SQL models and the Python marts over them (DuckDB over the lake)
POOLS = (INGEST, SQL)
