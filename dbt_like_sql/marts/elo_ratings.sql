-- elo_ratings: one row per (run, step, agent, scale) where the agent was rated, with its Elo and
-- TrueSkill mu/sigma of that same step.
select
    run_id,
    step,
    agent,
    min(agent_kind) as agent_kind,  -- both follow from the agent's name: one value per group
    min(checkpoint_step) as checkpoint_step,
    max(value) filter (measure = 'elo') as elo,
    max(value) filter (measure = 'mu') as trueskill_mu,
    max(value) filter (measure = 'sigma') as trueskill_sigma,
    max(value) filter (measure = 'rating') as trueskill_rating,
    scale
from int_wandb__rating_points
group by run_id, step, agent, scale
order by run_id, scale, agent, step
