-- `diplo compare`: the config values of the runs $run_ids, as text, to find the keys that differ.
select
    run_id,
    key,
    coalesce(value::varchar, value_text) as value
from run_config
where run_id in (select unnest(cast($run_ids as varchar[])))
order by key
