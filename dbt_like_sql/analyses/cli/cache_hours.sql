-- `diplo cache-stats`: the hours of cache_stats that overlap the window ($start, $end, $end_inclusive).
select *
from cache_stats
where hour_in_window(hour, $start, $end, $end_inclusive)
order by hour
