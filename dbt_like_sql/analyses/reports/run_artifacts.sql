-- The run report's Artifacts and logged tables section: the run's artifacts and each W&B Table it logged.
select
    'artifact' as what,
    direction || ' ' || type as kind,
    name as item_name,
    coalesce(version, digest) as version_or_digest,
    file_count as items,
    size_bytes,
    local_path
from run_artifacts
where run_id = $run_id
union all
select
    'table' as what,
    'W&B Table' as kind,
    key as item_name,
    'step ' || step as version_or_digest,
    count(*) as items,
    null::bigint as size_bytes,
    any_value(table_path) as local_path
from run_tables
where run_id = $run_id
group by key, step
order by what, item_name, version_or_digest
