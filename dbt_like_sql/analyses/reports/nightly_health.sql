-- Pipeline health of the hours in the nightly digest's window.
select * from health_hourly
where hour >= date_trunc('hour', $start::timestamptz) and hour <= $end
order by hour
