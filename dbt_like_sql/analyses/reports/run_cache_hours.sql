-- The inference engine's prefix-cache hours (Axiom) from a run's start to its last data.
select * from cache_stats
where hour_in_window(hour, $run_start::timestamptz, $run_end, true)
order by hour
