-- The Elo gap of every run of a sweep.
select
    run_id,
    step,
    elo_gap
from elo_gap
where run_id = any($run_ids)
order by run_id, step
