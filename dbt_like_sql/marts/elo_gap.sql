-- elo_gap: one row per (run, step) from the first step with both a checkpoint and a base_model rating.
-- Every agent's latest rating (and sigma) is carried forward to each step, so sparse series never get
-- paired with other series' steps. The 95 % band comes from the two agents' TrueSkill sigmas on the
-- Elo scale (Elo = 40·mu + const): ± 1.96 · 40 · sqrt(σ_best² + σ_base²); NULL where no sigma is logged.
-- Two checkpoints on the same Elo at a step: the later checkpoint (higher checkpoint_step) is the best one,
-- then the agent name, so every build picks the same one (and the same band).
with rated as (
    select
        run_id,
        step,
        agent,
        agent_kind,
        checkpoint_step,
        elo,
        trueskill_sigma
    from elo_ratings
    where scale = 'trainer' and elo is not null
),

run_steps_rated as (
    select distinct
        run_id,
        step
    from rated
),

run_agents as (
    select
        run_id,
        agent,
        min(agent_kind) as agent_kind,  -- both follow from the agent's name: one value per agent
        min(checkpoint_step) as checkpoint_step,
        arg_min(elo, step) as initial_elo
    from rated
    group by run_id, agent
),

grid as (
    select
        s.run_id,
        s.step,
        a.agent,
        a.agent_kind,
        a.checkpoint_step,
        a.initial_elo
    from run_steps_rated as s
    inner join run_agents as a using (run_id)
),

carried as (
    select
        g.*,
        r.elo,
        r.step as rated_step
    from grid as g
    asof left join rated as r
        on g.run_id = r.run_id and g.agent = r.agent and g.step >= r.step
),

-- Sigma is carried separately: it is only logged where TrueSkill keys exist.
sigma_points as (
    select *
    from rated
    where trueskill_sigma is not null
),

sigmas as (
    select
        g.run_id,
        g.step,
        g.agent,
        r.trueskill_sigma as sigma
    from grid as g
    asof left join sigma_points as r
        on g.run_id = r.run_id and g.agent = r.agent and g.step >= r.step
),

per_step as (
    select
        c.run_id,
        c.step,
        arg_max(c.agent, (c.elo, c.checkpoint_step, c.agent))
        filter (c.agent_kind = 'checkpoint' and c.elo is not null) as best_checkpoint,
        max(c.elo) filter (c.agent_kind = 'checkpoint') as best_checkpoint_elo,
        max(c.elo) filter (c.agent = 'base_model') as base_model_elo,
        -- Summed in agent order: a float sum in DuckDB's thread order differs in the last digits per build.
        sum(greatest(0, c.initial_elo - c.elo) order by c.agent)
        filter (c.agent_kind = 'baseline' and c.elo is not null) as baseline_exploitation
    from carried as c
    group by c.run_id, c.step
)

select
    p.run_id,
    p.step,
    p.best_checkpoint,
    p.best_checkpoint_elo,
    p.base_model_elo,
    p.best_checkpoint_elo - p.base_model_elo as elo_gap,
    p.best_checkpoint_elo - p.base_model_elo
    - 1.96 * 40 * sqrt(best.sigma ^ 2 + base.sigma ^ 2) as elo_gap_ci_low,
    p.best_checkpoint_elo - p.base_model_elo
    + 1.96 * 40 * sqrt(best.sigma ^ 2 + base.sigma ^ 2) as elo_gap_ci_high,
    p.baseline_exploitation
from per_step as p
left join sigmas as best on p.run_id = best.run_id and p.step = best.step and p.best_checkpoint = best.agent
left join sigmas as base on p.run_id = base.run_id and p.step = base.step and base.agent = 'base_model'
where p.best_checkpoint_elo is not null and p.base_model_elo is not null
order by p.run_id, p.step
