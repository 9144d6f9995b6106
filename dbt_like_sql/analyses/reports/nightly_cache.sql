-- Prefix-cache use over the nightly digest's window: the cache_stats hours added up, the hit rate
-- weighted by queries as the mart weighs it within an hour (the macro cache_hit_rate).
select
    min(cache_stats.hit_rate) as lowest_hourly_hit_rate,
    cache_hit_rate(cache_stats.hits, cache_stats.queries) as hit_rate,
    sum(cache_stats.queries) as queries
from cache_stats
where hour_in_window(cache_stats.hour, $window_start::timestamptz, $window_end, true)
