-- The curves a sweep's page draws side by side, for every run of the sweep.
select
    run_id,
    step,
    reward_mean,
    kl,
    kl_max,
    grad_norm
from run_steps
where run_id = any($run_ids)
order by run_id, step
