-- Pipeline health of the hours in the nightly digest's window.
select * from health_hourly
where hour >= date_trunc('hour', $window_start::timestamptz) and hour <= $window_end
order by hour
