-- `diplo health`: a window's status from its totals (the hours of cli/health_hours.sql added up), by the
-- health rule of health_hourly (macro health_status: `unknown` for a window without events).
select health_status($error_rate, $completion_rate) as status
