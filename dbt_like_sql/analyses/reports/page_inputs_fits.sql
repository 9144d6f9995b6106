-- The power-law fits each run's points went into (its own, its tags', its sweep's), as a fingerprint per run,
-- and every run behind those fits: a page draws each fit with all of its runs' points.
with fits as (
    select
        rows_digest(t) as digest,
        any_value(t.run_ids) as run_ids
    from power_law_fits as t
    group by t.scope, t.scope_id, t.x_metric, t.metric
)

select
    member.run_id as key,
    md5(string_agg(f.digest, ',' order by f.digest)) as digest,
    list_sort(list_distinct(flatten(list(f.run_ids)))) as run_ids
from fits as f, unnest(f.run_ids) as member (run_id)
group by member.run_id
