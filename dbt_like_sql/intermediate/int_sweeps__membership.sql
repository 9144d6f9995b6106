-- int_sweeps__membership: which run belongs to which sweep, by the first source that says so
-- (source-data.md §4): 1. Axiom `sweep_run_started` (sweep_name, letter, run_name); 2. the run name
-- `{sweep}-{LETTER}-{YYYYMMDD-HHMMSS}`; 3. a tag `{experiment_tag_prefix}-{LETTER}[-suffix]`, the prefix
-- mapped to its sweep by a sweep definition when there is one.
with runs as (
    select
        run_id,
        run_name,
        tags
    from stg_wandb__runs
    where run_kind = 'training'
),

from_axiom as (
    select distinct
        e.sweep_name,
        e.sweep_run_id as sweep_run_letter,
        r.run_id,
        1 as authority
    from stg_axiom__events as e
    inner join runs as r on e.run_name = r.run_name
    where e.event = 'sweep_run_started' and e.sweep_name is not null
),

from_name as (
    select
        regexp_extract(run_name, '^(.+)-([A-H])-([0-9]{8}-[0-9]{6})$', 1) as sweep_name,
        regexp_extract(run_name, '^(.+)-([A-H])-([0-9]{8}-[0-9]{6})$', 2) as sweep_run_letter,
        run_id,
        2 as authority
    from runs
    where regexp_matches(run_name, '^(.+)-([A-H])-([0-9]{8}-[0-9]{6})$')
),

tagged as (
    select
        run_id,
        regexp_extract(tag, '^(.+?)-([A-H])(-.+)?$', 1) as prefix,
        regexp_extract(tag, '^(.+?)-([A-H])(-.+)?$', 2) as sweep_run_letter
    from runs, unnest(tags) as t (tag)
    where regexp_matches(tag, '^(.+?)-([A-H])(-.+)?$')
),

from_tag as (
    select
        coalesce(d.sweep_name, t.prefix) as sweep_name,
        t.sweep_run_letter,
        t.run_id,
        3 as authority
    from tagged as t
    left join raw_sweeps__definitions as d on t.prefix = d.experiment_tag_prefix
),

candidates as (
    select * from from_axiom
    union all
    select * from from_name
    union all
    select * from from_tag
)

select
    run_id,
    sweep_name,
    sweep_run_letter,
    authority
from candidates
qualify row_number() over (partition by run_id order by authority, sweep_name, sweep_run_letter) = 1
order by run_id
