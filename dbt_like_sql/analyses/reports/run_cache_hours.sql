-- The inference engine's prefix-cache hours (Axiom) from a run's start to its last data.
select * from cache_stats
where hour >= date_trunc('hour', $run_start::timestamptz) and hour <= $run_end
order by hour
