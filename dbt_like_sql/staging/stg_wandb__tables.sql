-- materialized: view
-- stg_wandb__tables: every row of every W&B Table a run logged, one row per table row.
select *
from raw_wandb__tables
