-- The prefix-cache hit rate of a group of rows holding hit and query counts: hits / queries. Used by the
-- cache_stats mart (per hour, over counter differences) and `diplo cache-stats` (over the window's hours).
create or replace macro cache_hit_rate(hits, queries) as (
    sum(hits) / nullif(sum(queries), 0)
);

-- What one prefix_cache_stats sample adds to a cumulative vLLM counter: the difference from the sample
-- before it, or (after a restart: either counter went down) the value itself, since it counts from the
-- restart; NULL for the first sample, which has no baseline. Shared by the cache_stats mart and the
-- per-run answer of `diplo cache-stats --run`.
create or replace macro counter_increment(value, previous, restarted) as (
    case
        when previous is null then null
        when restarted then value
        else value - previous
    end
);
