-- health_hourly: pipeline health per hour, and the guides' operating targets per hour. No emitter writes
-- `level` or `message`: an error is an event whose name contains error/fail, or a span_duration with
-- status = 'error'. Rollout completion and inference latency count too (the old CLI ignored them, so every
-- hour looked healthy). The measures are the macro hour_health (macros/targets.sql), which `diplo health
-- --run` and the run report apply to a run's events too. The alert peaks count each rollout_error
-- (orders_empty) event with those in the trailing alert window before it; this model is computed one UTC
-- day at a time, so a burst that straddles midnight counts in two parts.
with hourly as (
    select
        e.event_hour as hour,
        -- unnest gives the macro's struct as its named columns (there is no one alias to give)
        unnest(hour_health(e))  -- noqa: AL03
    from stg_axiom__events as e
    group by e.event_hour
),

alert_events as (
    select
        event_id,
        event_time,
        event_hour,
        event
    from stg_axiom__events
    where event in ('rollout_error', 'orders_empty')
),

-- each alert event with the events of its kind in the trailing alert window that ends at it
alert_counts as (
    select
        e.event_hour,
        e.event,
        count(*) as in_window
    from alert_events as e
    inner join alert_events as earlier
        on
            e.event = earlier.event
            and e.event_time >= earlier.event_time
            and earlier.event_time >= e.event_time - alert_window(e.event)
    group by e.event_id, e.event_hour, e.event
),

peaks as (
    select
        event_hour,
        max(in_window) filter (where event = 'rollout_error') as peak_rollout_errors_1h,
        max(in_window) filter (where event = 'orders_empty') as peak_empty_orders_15m
    from alert_counts
    group by event_hour
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
    left join peaks as p on h.hour = p.event_hour
)

select
    *,
    health_status(error_rate, completion_rate) as status,
    operating_targets_missed(rates) as targets_missed
from rates
order by hour
