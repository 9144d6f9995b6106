-- Within a run, a later step was never logged before an earlier one (after resolving re-logged steps).
with steps as (
    select
        run_id,
        step,
        timestamp,
        lag(timestamp) over (partition by run_id order by step) as previous_timestamp
    from run_steps
)

select
    run_id,
    step,
    timestamp,
    previous_timestamp
from steps
where timestamp < previous_timestamp
