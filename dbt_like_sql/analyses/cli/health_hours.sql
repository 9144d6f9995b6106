-- `diplo health`: the hours of health_hourly that overlap the window ($start, $end, $end_inclusive). With
-- $run_name, the same hours computed over that run's events only (int_axiom__event_runs), by the mart's own
-- macros: hour_health for the measures, health_status for the status, operating_targets_missed for the
-- targets; the alert peaks count the run's events in the trailing alert window.
with run_events as (
    select e.*
    from axiom_events as e
    inner join int_axiom__event_runs as a using (event_id)
    where $run_name is not null and a.run_name = $run_name
),

hourly as (
    select
        date_trunc('hour', e.event_time) as hour,
        -- unnest gives the macro's struct as its named columns (there is no one alias to give)
        unnest(hour_health(e))  -- noqa: AL03
    from run_events as e
    group by date_trunc('hour', e.event_time)
),

alert_events as (
    select
        event_id,
        event_time,
        event
    from run_events
    where event in ('rollout_error', 'orders_empty')
),

alert_counts as (
    select
        date_trunc('hour', e.event_time) as hour,
        e.event,
        count(*) as in_window
    from alert_events as e
    inner join alert_events as earlier
        on
            e.event = earlier.event
            and e.event_time >= earlier.event_time
            and earlier.event_time >= e.event_time - alert_window(e.event)
    group by e.event_id, date_trunc('hour', e.event_time), e.event
),

peaks as (
    select
        hour,
        max(in_window) filter (where event = 'rollout_error') as peak_rollout_errors_1h,
        max(in_window) filter (where event = 'orders_empty') as peak_empty_orders_15m
    from alert_counts
    group by hour
),

rates as (
    select
        h.*,
        h.error_events / h.events as error_rate,
        h.rollouts_completed / nullif(h.rollouts_started, 0) as completion_rate,
        h.empty_responses / nullif(h.order_responses, 0) as empty_share,
        h.partial_responses / nullif(h.order_responses, 0) as partial_share,
        coalesce(p.peak_rollout_errors_1h, 0) as peak_rollout_errors_1h,
        coalesce(p.peak_empty_orders_15m, 0) as peak_empty_orders_15m
    from hourly as h
    left join peaks as p using (hour)
),

run_hours as (
    select
        *,
        health_status(error_rate, completion_rate) as status,
        operating_targets_missed(rates) as targets_missed
    from rates
)

select *
from health_hourly
where $run_name is null and hour_in_window(hour, $start, $end, $end_inclusive)
union all by name
select *
from run_hours
where hour_in_window(hour, $start, $end, $end_inclusive)
order by hour
