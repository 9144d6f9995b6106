-- One run's league ratings on every scale it has (the report picks one: the two are not comparable).
select
    step,
    agent,
    agent_kind,
    checkpoint_step,
    elo,
    scale
from elo_ratings
where run_id = $run_id
order by agent, step
