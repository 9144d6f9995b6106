-- `diplo artifacts RUN` and the run report: the game replays the run logged, with their local paths.
select
    replay_source,
    replay_name,
    artifact_version,
    step,
    opponent,
    file_path,
    local_path
from run_replays
where run_id = $run_id
order by replay_source, replay_name, artifact_version, step, file_path
