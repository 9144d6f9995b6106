-- materialized: view
-- run_replays: every game replay a run logged, with where it is on this machine: the HTML media
-- (eval/replay_vs_<opponent>, eval/replay/<opponent>) and each file of a replay artifact (run_artifacts.is_replay).
with html as (
    select
        run_id,
        'html' as replay_source,
        key as replay_name,
        null::varchar as artifact_version,
        step,
        nullif(regexp_extract(key, '^eval/replay(_vs_|/)(.+)$', 2), '') as opponent,
        path as file_path,
        local_path
    from stg_wandb__media
    where media_type = 'html-file'
),

artifact_files as (
    select
        run_id,
        name,
        coalesce(version, digest) as artifact_version,
        unnest(files) as file_path,
        unnest(file_local_paths) as local_path
    from run_artifacts
    where is_replay and direction = 'logged'
)

select * from html
union all by name
select
    run_id,
    'artifact' as replay_source,
    name as replay_name,
    artifact_version,
    null::bigint as step,
    nullif(regexp_extract(name, '-vs-(.+)$', 1), '') as opponent,
    file_path,
    local_path
from artifact_files
