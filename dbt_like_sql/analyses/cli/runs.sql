-- `diplo runs`: newest first, at most $limit. A run matches when it has any of $tags (an empty list:
-- any run, as wandb_cli's `$in`), is in $state (NULL: any state) and holds every pair of $config, a list
-- of {key, number, text}: run_config keeps numbers in `value` and strings and booleans (as
-- 'true'/'false') in `value_text`, so a pair gives the one its value is.
with wanted as (
    select unnest(cast($config as struct(key varchar, number double, text varchar)[])) as pair
),

holding_every_pair as (
    select c.run_id
    from run_config as c
    inner join wanted as w
        on c.key = w.pair.key and (c.value = w.pair.number or c.value_text = w.pair.text)
    group by c.run_id
    having count(distinct w.pair) = (select count(distinct wanted.pair) from wanted)
)

select
    run_id,
    run_name,
    state,
    run_kind,
    created_at,
    runtime_s,
    last_step,
    tags,
    sweep_name
from runs
where
    (len(cast($tags as varchar[])) = 0 or list_has_any(tags, cast($tags as varchar[])))
    and (cast($state as varchar) is null or state = $state)
    and ((select count(*) from wanted) = 0 or run_id in (select h.run_id from holding_every_pair as h))
order by created_at desc, run_id asc
limit $limit
