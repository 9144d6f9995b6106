-- `diplo artifacts RUN` and `diplo run RUN`: the artifacts the run logged and used ($type: only that type,
-- or NULL for all), outputs first.
select
    direction,
    name,
    type,
    coalesce(version, digest) as version_or_digest,
    version,
    digest,
    aliases,
    size_bytes,
    file_count,
    files,
    local_path,
    file_local_paths,
    is_replay,
    created_at
from run_artifacts
where run_id = $run_id and ($type is null or type = $type)
order by direction, name, created_at nulls last, version, digest
