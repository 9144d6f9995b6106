-- materialized: view
-- runs: the public name (WAREHOUSE.md) of stg_wandb__runs.
select *
from stg_wandb__runs
