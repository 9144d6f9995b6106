-- rollout_timing: completed rollouts' wall time per UTC day of completion, by horizon and for `all`.
-- The statistics are the macro rollout_timing_stats (macros/rollouts.sql), which `diplo rollout-timing`
-- and the run report use too: trajectories_per_hour divides by the hours in which rollouts completed
-- (active hours); avg_s adds the durations in rollout_id order.
with completed as (
    select
        rollout_id,
        completed_at,
        cast(timezone('UTC', completed_at) as date) as day,
        coalesce(horizon_type, 'unknown') as horizon_type,
        duration_s,
        trajectories
    from rollouts
    where is_timed_rollout(status, duration_s)
),

labelled as (
    select
        rollout_id,
        completed_at,
        day,
        horizon_type,
        duration_s,
        trajectories
    from completed
    union all
    select
        rollout_id,
        completed_at,
        day,
        'all' as horizon_type,
        duration_s,
        trajectories
    from completed
)

select
    day,
    horizon_type,
    -- unnest gives the macro's struct as its named columns (there is no one alias to give)
    unnest(rollout_timing_stats(duration_s, trajectories, completed_at, rollout_id))  -- noqa: AL03
from labelled
group by day, horizon_type
order by day, horizon_type
