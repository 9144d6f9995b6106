-- The nightly digest's runs: those with anything in the window ($start, $end], and what happened to each.
-- A crashed run has no exit record: its end is its last data.
with trained as (
    select
        run_id,
        count(*) as steps_in_window,
        min(step) as first_step,
        max(step) as last_step_in_window
    from run_steps
    where timestamp > $start and timestamp <= $end
    group by run_id
)

select
    r.run_id,
    r.run_name,
    r.state,
    r.run_kind,
    r.created_at,
    r.last_timestamp,
    r.last_step,
    r.total_steps,
    r.created_at > $start and r.created_at <= $end as started,
    r.state = 'finished' and r.finished_at > $start and r.finished_at <= $end as finished,
    r.state = 'crashed'
    and coalesce(r.finished_at, r.last_timestamp) > $start
    and coalesce(r.finished_at, r.last_timestamp) <= $end as crashed,
    r.state = 'running' as running,
    t.steps_in_window,
    t.first_step,
    t.last_step_in_window,
    l.learning_signal,
    l.final_elo_gap,
    l.final_elo_gap_ci_low,
    l.final_elo_gap_ci_high
from runs as r
left join trained as t using (run_id)
left join run_learning as l using (run_id)
where
    t.run_id is not null
    or r.state = 'running'
    or (r.created_at > $start and r.created_at <= $end)
    or (coalesce(r.finished_at, r.last_timestamp) > $start and coalesce(r.finished_at, r.last_timestamp) <= $end)
order by r.created_at, r.run_id
