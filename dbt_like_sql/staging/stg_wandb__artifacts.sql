-- materialized: view
-- stg_wandb__artifacts: the artifacts each run logged or used, one row per artifact.
select *
from raw_wandb__artifacts
