-- The health rule (WAREHOUSE.md health_hourly.status), used by health_hourly for each hour and by
-- `diplo health` for a window as a whole: `unknown` with no events to judge (an empty window; an hour of
-- health_hourly always has events). A completion rate that is NULL (no rollout started) judges nothing.
-- The limits are thresholds.yml's, as the macros limit_<name>().
create or replace macro health_status(error_rate, completion_rate) as (
    case
        when error_rate is null then 'unknown'
        when
            error_rate >= limit_error_rate_unhealthy()
            or completion_rate < limit_completion_rate_unhealthy()
            then 'unhealthy'
        when
            error_rate >= limit_error_rate_degraded()
            or completion_rate < limit_completion_rate_degraded()
            then 'degraded'
        else 'healthy'
    end
);

-- An event that counts as an error: its name says error or fail, or it is a span that ended in error.
create or replace macro is_error_event(event, status) as (
    event like '%error%' or event like '%fail%' or (event = 'span_duration' and status = 'error')
);
