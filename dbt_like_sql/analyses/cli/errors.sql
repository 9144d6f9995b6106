-- `diplo errors`: error events in the window ($start, $end, $end_inclusive; macro is_error_event, as
-- health_hourly counts them), newest first, at most $limit; `matching` counts them all. Each event's run is
-- int_axiom__event_runs' (the run it names, its rollout's time-window attribution, or the one run whose
-- window holds it); $run_name (NULL: every run) keeps one run's events.
with error_events as (
    select
        e.*,
        a.run_name as attributed_run
    from axiom_events as e
    left join int_axiom__event_runs as a using (event_id)
    where
        is_error_event(e.event, e.status)
        and in_window(e.event_time, $start, $end, $end_inclusive)
        and ($run_name is null or a.run_name = $run_name)
)

select
    event_time,
    event,
    attributed_run as run_name,
    rollout_id,
    span_name,
    error,
    count(*) over () as matching
from error_events
order by event_time desc, event asc
limit $limit
