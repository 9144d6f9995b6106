-- The Elo gap of every run of a sweep, with its 95 % band.
select
    run_id,
    step,
    elo_gap,
    elo_gap_ci_low,
    elo_gap_ci_high
from elo_gap
where run_id = any($run_ids)
order by run_id, step
