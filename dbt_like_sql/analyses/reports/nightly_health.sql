-- Pipeline health of the hours in the nightly digest's window (its end included).
select * from health_hourly
where hour_in_window(hour, $window_start::timestamptz, $window_end, true)
order by hour
