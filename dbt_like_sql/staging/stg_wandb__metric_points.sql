-- materialized: view
-- stg_wandb__metric_points: every logged value, long format. A step a resumed run logged twice has both
-- writes here; `write_seq` orders them (the later write wins downstream).
select *
from raw_wandb__metric_points
