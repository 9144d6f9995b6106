-- Rollout wall-time statistics, shared by the rollout_timing mart (per day and horizon), `diplo
-- rollout-timing` (per window) and the run report (per run).

-- A rollout whose wall time counts: it completed and rollout_complete gave its duration.
create or replace macro is_timed_rollout(status, duration_s) as (
    status = 'completed' and duration_s is not null
);

-- The wall-time statistics of a group of rollouts, as one struct (`unnest(...)` in the select list gives
-- the columns rollouts, avg_s, p50_s, p95_s, max_s, trajectories, trajectories_per_hour; the grouping is
-- the caller's). Arguments are rollouts' columns:
--   duration_s    wall time, seconds (p50_s and p95_s interpolate: quantile_cont)
--   trajectories  trajectories the rollout produced
--   completed_at  when it completed: trajectories_per_hour divides by the distinct UTC hours in which
--                 rollouts of the group completed (active hours, not the hours of a calendar window)
--   rollout_id    the order avg_s adds the durations in (a float sum in DuckDB's thread order differs in
--                 its last digits between builds; README "Deterministic marts")
create or replace macro rollout_timing_stats(duration_s, trajectories, completed_at, rollout_id) as {
    'rollouts': count(*),
    'avg_s': avg(duration_s order by rollout_id),
    'p50_s': quantile_cont(duration_s, 0.5),
    'p95_s': quantile_cont(duration_s, 0.95),
    'max_s': max(duration_s),
    'trajectories': sum(trajectories),
    'trajectories_per_hour': (
        sum(trajectories) / nullif(count(distinct date_trunc('hour', timezone('UTC', completed_at))), 0)
    )
};
