-- `diplo health`: the hours of health_hourly that overlap the window ($start, $end, $end_inclusive).
select *
from health_hourly
where hour_in_window(hour, $start, $end, $end_inclusive)
order by hour
