-- materialized: view
-- stg_wandb__config: run config, one row per flattened key (nested keys joined with '.').
select *
from raw_wandb__config
