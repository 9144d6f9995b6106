-- materialized: view
-- stg_wandb__summary: run summary (the last value of every key), one row per key.
select *
from raw_wandb__summary
