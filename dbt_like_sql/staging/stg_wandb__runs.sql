-- materialized: view
-- stg_wandb__runs: one row per WandB run, as ingested.
select *
from raw_wandb__runs
