-- The prefix-cache hours each run's page shows (from its start to its last data, as run_cache_hours.sql):
-- a fingerprint per run id.
with windows as (
    select
        run_id,
        created_at as run_start,
        coalesce(last_timestamp, finished_at, created_at) as run_end
    from runs
    where coalesce(last_timestamp, finished_at, created_at) is not null
)

select
    w.run_id as key,
    -- t: the whole row of cache_stats, not a column
    rows_digest(t) as digest  -- noqa: RF02
from windows as w
inner join cache_stats as t on hour_in_window(t.hour, w.run_start::timestamptz, w.run_end, true)
group by w.run_id
