-- `diplo errors`: error events in the window ($start, $end, $end_inclusive; macro is_error_event, as
-- health_hourly counts them), newest first, at most $limit; `matching` counts them all. A rollout's
-- events name no run: its run is the rollouts mart's time-window attribution.
with error_events as (
    select *
    from axiom_events
    where is_error_event(event, status) and in_window(event_time, $start, $end, $end_inclusive)
)

select
    e.event_time,
    e.event,
    coalesce(e.run_name, r.run_name) as run_name,
    e.rollout_id,
    e.span_name,
    e.error,
    count(*) over () as matching
from error_events as e
left join rollouts as r on e.rollout_id = r.rollout_id
order by e.event_time desc, e.event asc
limit $limit
