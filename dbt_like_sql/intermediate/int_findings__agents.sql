-- materialized: view
-- int_findings__agents: elo_agent_summary plus the step of each agent's first rating (baselines_rising
-- starts its episode there), over the same ratings the summary reads: trainer scale, non-null.
with first_ratings as (
    select
        run_id,
        agent,
        min(step) as initial_step
    from elo_ratings
    where scale = 'trainer' and elo is not null
    group by run_id, agent
)

select
    a.*,
    r.initial_step
from elo_agent_summary as a
left join first_ratings as r using (run_id, agent)
