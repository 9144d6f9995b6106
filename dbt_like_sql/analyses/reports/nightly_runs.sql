-- The nightly digest's runs: those with anything in the window ($window_start, $window_end], and what happened
-- to each.
-- A crashed run has no exit record: its end is its last data.
with trained as (
    select
        run_id,
        count(*) as steps_in_window,
        min(step) as first_step,
        max(step) as last_step_in_window
    from run_steps
    where timestamp > $window_start and timestamp <= $window_end
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
    r.created_at > $window_start and r.created_at <= $window_end as started,
    r.state = 'finished' and r.finished_at > $window_start and r.finished_at <= $window_end as finished,
    r.state = 'crashed'
    and coalesce(r.finished_at, r.last_timestamp) > $window_start
    and coalesce(r.finished_at, r.last_timestamp) <= $window_end as crashed,
    r.state = 'running' as running,
    t.steps_in_window,
    t.first_step,
    t.last_step_in_window,
    l.learning_signal,
    l.learning_signal_significant,
    l.final_elo_gap,
    l.final_elo_gap_ci_low,
    l.final_elo_gap_ci_high
from runs as r
left join trained as t using (run_id)
left join run_learning as l using (run_id)
where
    t.run_id is not null
    or r.state = 'running'
    or (r.created_at > $window_start and r.created_at <= $window_end)
    or (
        coalesce(r.finished_at, r.last_timestamp) > $window_start
        and coalesce(r.finished_at, r.last_timestamp) <= $window_end
    )
order by r.created_at, r.run_id
