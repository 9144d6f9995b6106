-- materialized: view
-- run_config: the public name (WAREHOUSE.md) of stg_wandb__config.
select *
from stg_wandb__config
