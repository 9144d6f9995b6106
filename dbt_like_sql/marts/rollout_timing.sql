-- rollout_timing: completed rollouts' wall time per UTC day of completion, by horizon and for `all`.
-- trajectories_per_hour divides by the hours of that day in which rollouts completed (active hours).
-- avg_s adds the durations in rollout_id order: in DuckDB's thread order its last digits differ per build.
with completed as (
    select
        rollout_id,
        cast(timezone('UTC', completed_at) as date) as day,
        coalesce(horizon_type, 'unknown') as horizon_type,
        date_trunc('hour', timezone('UTC', completed_at)) as hour,
        duration_s,
        trajectories
    from rollouts
    where status = 'completed' and duration_s is not null
),

labelled as (
    select rollout_id, day, horizon_type, hour, duration_s, trajectories from completed
    union all
    select rollout_id, day, 'all' as horizon_type, hour, duration_s, trajectories from completed
)

select
    day,
    horizon_type,
    count(*) as rollouts,
    avg(duration_s order by rollout_id) as avg_s,
    quantile_cont(duration_s, 0.5) as p50_s,
    quantile_cont(duration_s, 0.95) as p95_s,
    max(duration_s) as max_s,
    sum(trajectories) as trajectories,
    sum(trajectories) / count(distinct hour) as trajectories_per_hour
from labelled
group by day, horizon_type
order by day, horizon_type
