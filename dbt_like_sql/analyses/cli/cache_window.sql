-- `diplo cache-stats`: the window's totals over the hours of cli/cache_hours.sql (hits and queries are
-- counter differences, so restarts and the cumulative counters do not inflate them), and its hit rate
-- (macro cache_hit_rate, as the cache_stats mart computes each hour's).
select
    coalesce(sum(samples), 0) as samples,
    coalesce(sum(queries), 0) as queries,
    coalesce(sum(hits), 0) as hits,
    coalesce(sum(prompt_tokens), 0) as prompt_tokens,
    coalesce(sum(tokens_saved_est), 0) as tokens_saved_est,
    cache_hit_rate(hits, queries) as hit_rate
from cache_stats
where hour_in_window(hour, $start, $end, $end_inclusive)
