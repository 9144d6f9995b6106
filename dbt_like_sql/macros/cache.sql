-- The prefix-cache hit rate of a group of rows holding hit and query counts: hits / queries. Used by the
-- cache_stats mart (per hour, over counter differences) and `diplo cache-stats` (over the window's hours).
create or replace macro cache_hit_rate(hits, queries) as (
    sum(hits) / nullif(sum(queries), 0)
);
