-- `diplo compare`: the compared runs, oldest first.
select
    run_id,
    run_name,
    state,
    created_at,
    last_step
from runs
where run_id in (select unnest(cast($run_ids as varchar[])))
order by created_at
