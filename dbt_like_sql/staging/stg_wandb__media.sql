-- materialized: view
-- stg_wandb__media: every media file a run logged (tables, HTML replays, images), one row per (key, step).
select *
from raw_wandb__media
