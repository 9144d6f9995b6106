-- The run report's Replays section: every game replay the run logged, with where it is on this machine.
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
order by replay_source desc, replay_name asc, artifact_version asc, step asc, file_path asc
