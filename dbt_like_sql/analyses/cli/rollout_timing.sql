-- `diplo rollout-timing`: completed rollouts' wall time in the window ($start, $end, $end_inclusive), an
-- `all` row first, then (when $by_horizon) one row per horizon type. The statistics are the
-- rollout_timing mart's (macro rollout_timing_stats); an empty window gives an `all` row of 0 rollouts.
-- $run_name (NULL: every run) keeps the rollouts the rollouts mart attributes to that run.
with completed as (
    select
        rollout_id,
        completed_at,
        coalesce(horizon_type, 'unknown') as horizon_type,
        duration_s,
        trajectories
    from rollouts
    where
        is_timed_rollout(status, duration_s)
        and in_window(completed_at, $start, $end, $end_inclusive)
        and ($run_name is null or run_name = $run_name)
)

select
    case when grouping(horizon_type) = 1 then 'all' else horizon_type end as horizon_type,
    -- unnest gives the macro's struct as its named columns (there is no one alias to give)
    unnest(rollout_timing_stats(duration_s, trajectories, completed_at, rollout_id))  -- noqa: AL03
from completed
group by grouping sets ((horizon_type), ())
having $by_horizon or grouping(horizon_type) = 1
order by grouping(horizon_type) desc, horizon_type
