-- cache_stats: prefix-cache use per hour. prefix_cache_stats carries CUMULATIVE vLLM counters, so
-- queries and hits are differences between consecutive samples (summing them over-counts); when a
-- counter goes down the engine restarted and the new value is the count since the restart.
with samples as (
    select
        event_time,
        event_hour,
        queries,
        hits,
        prompt_tokens_total,
        prompt_tokens_cached,
        lag(queries) over counters as previous_queries,
        lag(hits) over counters as previous_hits
    from stg_axiom__events
    where event = 'prefix_cache_stats' and queries > 0  -- 0 means the counter was unavailable
    window counters as (order by event_time, event_id)
),

increments as (
    select
        event_hour,
        prompt_tokens_total,
        prompt_tokens_cached,
        -- no baseline for the first sample; a counter that went down restarted with the engine
        counter_increment(queries, previous_queries, queries < previous_queries or hits < previous_hits)
            as new_queries,
        counter_increment(hits, previous_hits, queries < previous_queries or hits < previous_hits) as new_hits
    from samples
),

all_samples as (
    select
        event_hour,
        count(*) as samples
    from stg_axiom__events
    where event = 'prefix_cache_stats'
    group by event_hour
)

select
    a.event_hour as hour,
    a.samples,
    coalesce(sum(i.new_queries), 0)::bigint as queries,
    coalesce(sum(i.new_hits), 0)::bigint as hits,
    cache_hit_rate(i.new_hits, i.new_queries) as hit_rate,
    coalesce(sum(i.prompt_tokens_total), 0)::bigint as prompt_tokens,
    coalesce(sum(i.prompt_tokens_cached), 0)::bigint as tokens_saved_est
from all_samples as a
left join increments as i using (event_hour)
group by a.event_hour, a.samples
order by hour
