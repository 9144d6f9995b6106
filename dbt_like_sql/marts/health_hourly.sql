-- health_hourly: pipeline health per hour. No emitter writes `level` or `message`: an error is an event
-- whose name contains error/fail, or a span_duration with status = 'error'. Rollout completion and
-- inference latency count too (the old CLI ignored them, so every hour looked healthy). avg_inference_ms
-- adds the latencies in event_id order, so every build gets the same last digits.
with hourly as (
    select
        event_hour as hour,
        count(*) as events,
        count(*) filter (is_error_event(event, status)) as error_events,
        count(*) filter (event = 'rollout_start') as rollouts_started,
        count(*) filter (event = 'rollout_complete') as rollouts_completed,
        count(*) filter (event = 'rollout_error') as rollouts_failed,
        avg(duration_ms order by event_id) filter (event = 'inference_response') as avg_inference_ms
    from stg_axiom__events
    group by event_hour
),

rates as (
    select
        *,
        error_events / events as error_rate,
        rollouts_completed / nullif(rollouts_started, 0) as completion_rate
    from hourly
)

select
    *,
    health_status(error_rate, completion_rate) as status
from rates
order by hour
