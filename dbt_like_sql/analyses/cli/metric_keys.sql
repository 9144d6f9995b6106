-- `diplo metrics RUN` without keys: every key the run logged, with its number of points and step range
-- (a step logged twice counts once).
with latest as (
    select
        key,
        step
    from metric_points
    where run_id = $run_id
    qualify write_seq = max(write_seq) over (partition by row_kind, step, key)
)

select
    key,
    count(*) as points,
    min(step) as first_step,
    max(step) as last_step
from latest
group by key
order by key
