-- elo_agent_summary: one row per (run, agent) on the trainer scale: where the agent started, peaked and
-- ended. Checkpoint trend (analyze_elo's rule, limits from thresholds.yml): final − peak above
-- checkpoint_slight_decline near_peak, above checkpoint_decline slight_decline, else declining. seed_elo
-- is the league's seed for baselines (source-data.md §1.6).
with rated as (
    select *
    from elo_ratings
    where scale = 'trainer' and elo is not null
),

seeds (agent, seed_elo) as (
    values
    ('base_model', 1000.0::double), ('chaos_bot', 900.0), ('defensive_bot', 950.0),
    ('territorial_bot', 950.0), ('coordinated_bot', 1000.0), ('dumb_bot', 850.0)
),

peaks as (
    select
        *,
        max(elo) over (partition by run_id, agent) as peak
    from rated
),

summary as (
    select
        run_id,
        agent,
        min(agent_kind) as agent_kind,  -- both follow from the agent's name: one value per group
        min(checkpoint_step) as checkpoint_step,
        arg_min(elo, step) as initial_elo,
        max(elo) as peak_elo,
        min(step) filter (elo = peak) as peak_step,
        arg_max(elo, step) as final_elo,
        max(step) as final_step,
        count(*) as games_steps
    from peaks
    group by run_id, agent
)

select
    s.run_id,
    s.agent,
    s.agent_kind,
    s.checkpoint_step,
    seeds.seed_elo,
    s.initial_elo,
    s.peak_elo,
    s.peak_step,
    s.final_elo,
    s.final_step,
    s.final_elo - s.initial_elo as change,
    s.games_steps,
    case
        when s.agent_kind = 'baseline' then null
        when s.final_elo - s.peak_elo > limit_checkpoint_slight_decline() then 'near_peak'
        when s.final_elo - s.peak_elo > limit_checkpoint_decline() then 'slight_decline'
        else 'declining'
    end as trend
from summary as s
left join seeds using (agent)
order by s.run_id, s.agent_kind, s.checkpoint_step, s.agent
