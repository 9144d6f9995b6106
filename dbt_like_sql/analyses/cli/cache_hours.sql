-- `diplo cache-stats`: the hours of cache_stats that overlap the window ($start, $end, $end_inclusive).
-- With $run_name, the same hours over that run's prefix_cache_stats samples (int_axiom__event_runs: the one
-- training run whose window holds them): each sample's increment of the cumulative counters is taken from
-- the sample before it in the whole stream, as the mart takes it (macro counter_increment), so a run's
-- first sample counts what was served since the previous sample, not its counters' totals.
with samples as (
    select
        event_id,
        event_time,
        queries,
        hits,
        prompt_tokens_total,
        prompt_tokens_cached,
        lag(queries) over counters as previous_queries,
        lag(hits) over counters as previous_hits
    from axiom_events
    where $run_name is not null and event = 'prefix_cache_stats' and queries > 0  -- 0: counter unavailable
    window counters as (order by event_time, event_id)
),

run_samples as (
    select
        date_trunc('hour', e.event_time) as hour,
        e.event = 'prefix_cache_stats' as counted,
        s.prompt_tokens_total,
        s.prompt_tokens_cached,
        counter_increment(s.queries, s.previous_queries, s.queries < s.previous_queries or s.hits < s.previous_hits)
            as new_queries,
        counter_increment(s.hits, s.previous_hits, s.queries < s.previous_queries or s.hits < s.previous_hits)
            as new_hits
    from axiom_events as e
    inner join int_axiom__event_runs as a using (event_id)
    left join samples as s using (event_id)
    where $run_name is not null and a.run_name = $run_name and e.event = 'prefix_cache_stats'
),

run_hours as (
    select
        hour,
        count(*) as samples,
        coalesce(sum(new_queries), 0)::bigint as queries,
        coalesce(sum(new_hits), 0)::bigint as hits,
        cache_hit_rate(new_hits, new_queries) as hit_rate,
        coalesce(sum(prompt_tokens_total), 0)::bigint as prompt_tokens,
        coalesce(sum(prompt_tokens_cached), 0)::bigint as tokens_saved_est
    from run_samples
    group by hour
)

select *
from cache_stats
where $run_name is null and hour_in_window(hour, $start, $end, $end_inclusive)
union all by name
select *
from run_hours
where hour_in_window(hour, $start, $end, $end_inclusive)
order by hour
