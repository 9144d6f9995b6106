-- Prefix-cache use over the nightly digest's window: the cache_stats hours added up, the hit rate
-- weighted by queries as the mart weighs it within an hour.
-- TODO(issue 11): the hit rate becomes the cache hit-rate macro of dbt_like_sql/macros/.
select
    min(hit_rate) as lowest_hourly_hit_rate,
    sum(hits) / nullif(sum(queries), 0) as hit_rate,
    sum(queries) as queries
from cache_stats
where hour >= date_trunc('hour', $window_start::timestamptz) and hour <= $window_end
