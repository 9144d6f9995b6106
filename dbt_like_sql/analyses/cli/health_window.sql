-- `diplo health`: the window's totals over the hours of cli/health_hours.sql, and its status by the
-- health rule of health_hourly (macro health_status: `unknown` for a window without events). The hours
-- by status keep a bad hour visible inside a long healthy window.
with hours as (
    select *
    from health_hourly
    where hour_in_window(hour, $start, $end, $end_inclusive)
),

totals as (
    select
        coalesce(sum(events), 0) as events,
        coalesce(sum(error_events), 0) as error_events,
        coalesce(sum(rollouts_started), 0) as rollouts_started,
        coalesce(sum(rollouts_completed), 0) as rollouts_completed,
        coalesce(sum(rollouts_failed), 0) as rollouts_failed,
        count(*) filter (where status = 'healthy') as healthy_hours,
        count(*) filter (where status = 'degraded') as degraded_hours,
        count(*) filter (where status = 'unhealthy') as unhealthy_hours
    from hours
),

rates as (
    select
        *,
        error_events / nullif(events, 0) as error_rate,
        rollouts_completed / nullif(rollouts_started, 0) as completion_rate
    from totals
)

select
    *,
    health_status(error_rate, completion_rate) as status
from rates
