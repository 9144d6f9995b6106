-- `diplo elo RUN`: every agent of the run on the trainer scale (elo_agent_summary), checkpoints by step.
select
    agent,
    agent_kind,
    checkpoint_step,
    seed_elo,
    initial_elo,
    peak_elo,
    peak_step,
    final_elo,
    final_step,
    change,
    games_steps,
    trend
from elo_agent_summary
where run_id = $run_id
order by agent_kind, checkpoint_step, agent
