-- One run's rollouts by final status, with their wall time as rollout_timing measures it (the macro
-- rollout_timing_stats), over every rollout of the run instead of one day's completed ones.
with by_status as (
    select
        rollouts.status,
        rollout_timing_stats(
            rollouts.duration_s, rollouts.trajectories, rollouts.completed_at, rollouts.rollout_id
        ) as wall_time,
        count(*) filter (where rollouts.error is not null) as with_error
    from rollouts
    where rollouts.run_name = $run_name
    group by rollouts.status
)

select
    by_status.status,
    by_status.wall_time.rollouts,
    by_status.wall_time.p50_s,
    by_status.wall_time.p95_s,
    by_status.wall_time.max_s,
    by_status.with_error
from by_status
order by by_status.status
