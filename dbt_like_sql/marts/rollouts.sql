-- rollouts: one row per rollout (GRPO group), assembled from rollout_start, rollout_complete,
-- rollout_metrics and rollout_error on rollout_id. horizon_type only exists on rollout_start and the
-- duration only as rollout_complete.total_duration_ms (the old CLI read fields that never existed).
-- Rollout events carry no run identity: they are attributed to the training run whose time window
-- holds the rollout's start; overlapping runs make it `ambiguous` (run_name NULL), never a guess.
with rollout_events as (
    select *
    from stg_axiom__events
    where rollout_id is not null and rollout_id <> 'inference-engine'
),

starts as (
    select
        rollout_id,
        min(event_time) as started_at,
        -- event_id breaks ties between events of the same instant (two exports, a retried emit)
        arg_min(horizon_type, (event_time, event_id)) as horizon_type,
        arg_min(horizon_years, (event_time, event_id)) as horizon_years,
        arg_min(warmup_phases, (event_time, event_id)) as warmup_phases
    from rollout_events
    where event = 'rollout_start'
    group by rollout_id
),

completions as (
    select
        rollout_id,
        max(event_time) as completed_at,
        arg_max(trajectories_count, (event_time, event_id)) as trajectories,
        arg_max(total_duration_ms, (event_time, event_id)) / 1000.0 as duration_s
    from rollout_events
    where event = 'rollout_complete'
    group by rollout_id
),

metrics as (
    select
        rollout_id,
        arg_max(extraction_rate, (event_time, event_id)) as extraction_rate
    from rollout_events
    where event = 'rollout_metrics'
    group by rollout_id
),

errors as (
    select
        rollout_id,
        min(event_time) as failed_at,
        arg_min(error, (event_time, event_id)) as error
    from rollout_events
    where event = 'rollout_error'
    group by rollout_id
),

rollout_ids as (
    select rollout_id from starts
    union
    select rollout_id from completions
    union
    select rollout_id from errors
),

assembled as (
    select
        i.rollout_id,
        s.started_at,
        c.completed_at,
        s.horizon_type,
        s.horizon_years,
        s.warmup_phases,
        c.trajectories,
        c.duration_s,
        case
            when c.rollout_id is not null then 'completed'
            when e.rollout_id is not null then 'failed'
            else 'unfinished'
        end as status,
        e.error,
        m.extraction_rate,
        coalesce(s.started_at, c.completed_at, e.failed_at) as seen_at
    from rollout_ids as i
    left join starts as s using (rollout_id)
    left join completions as c using (rollout_id)
    left join metrics as m using (rollout_id)
    left join errors as e using (rollout_id)
),

window_matches as (
    select
        a.rollout_id,
        count(w.run_name) as matching_runs,
        min(w.run_name) as run_name
    from assembled as a
    left join int_wandb__run_windows as w
        on a.seen_at between w.window_start and w.window_end
    group by a.rollout_id
)

select
    a.* exclude (a.seen_at),
    case when m.matching_runs = 1 then m.run_name end as run_name,
    case m.matching_runs when 0 then 'none' when 1 then 'unique' else 'ambiguous' end as attribution
from assembled as a
inner join window_matches as m using (rollout_id)
order by a.rollout_id
