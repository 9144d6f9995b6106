-- int_wandb__run_windows: when each training run was active, for attributing Axiom events that carry no
-- run identity: from the run's start to its last logged timestamp (or its end when it logged nothing).
select
    run_id,
    run_name,
    created_at as window_start,
    coalesce(last_timestamp, finished_at, created_at) as window_end
from stg_wandb__runs
where run_kind = 'training' and created_at is not null
order by run_id
