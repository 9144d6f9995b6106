-- materialized: view
-- run_artifacts: the artifacts each run logged or used (WAREHOUSE.md), with whether it holds game replays
-- (type evaluation-replays or visualization, or named eval-replays-* / game-replay-*, source-data.md §1.9).
select
    a.run_id,
    r.run_name,
    a.direction,
    a.name,
    a.type,
    a.version,
    a.digest,
    a.aliases,
    a.size_bytes,
    a.file_count,
    a.files,
    a.file_local_paths,
    a.local_path,
    a.metadata,
    a.created_at,
    a.source,
    (
        a.type in ('evaluation-replays', 'visualization')
        or a.name like 'eval-replays-%'
        or a.name like 'game-replay-%'
    ) as is_replay
from stg_wandb__artifacts as a
left join stg_wandb__runs as r using (run_id)
