-- materialized: view
-- metric_points: the public name (WAREHOUSE.md) of stg_wandb__metric_points.
select *
from stg_wandb__metric_points
