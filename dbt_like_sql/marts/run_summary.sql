-- materialized: view
-- run_summary: the public name (WAREHOUSE.md) of stg_wandb__summary.
select *
from stg_wandb__summary
