-- sweep_runs: one row per run of a sweep, with run-wide aggregates (not just the last step's values),
-- the config keys that vary across the sweep, and its rank by final Elo gap (1 = best).
with members as (
    select
        m.*,
        r.run_name,
        r.state,
        r.steps_logged as steps
    from int_sweeps__membership as m
    inner join stg_wandb__runs as r using (run_id)
),

configs as (
    select
        m.sweep_name,
        m.run_id,
        c.key,
        case when c.value is not null then to_json(c.value) else to_json(c.value_text) end as value
    from members as m
    inner join stg_wandb__config as c using (run_id)
    -- Keys that name the run itself always differ; they are not what the sweep varied.
    where c.key not in (
        'run_name', 'experiment_tag', 'git_branch', 'git_commit', 'league_registry_path',
        'profile_run_name', 'resume_from_run'
    )
),

sweep_sizes as (
    select
        sweep_name,
        count(*) as runs
    from members
    group by sweep_name
),

varying_keys as (
    select
        c.sweep_name,
        c.key
    from configs as c
    inner join sweep_sizes as z using (sweep_name)
    group by c.sweep_name, c.key, z.runs
    -- A key that differs between runs, or that only some runs set.
    having count(distinct c.value::varchar) > 1 or count(*) < z.runs
),

varying as (
    -- Keys in order (json_group_object is a macro that cannot be ordered; a map gives the same JSON).
    select
        c.run_id,
        to_json(map_from_entries(list((c.key, c.value) order by c.key))) as varying_params
    from configs as c
    inner join varying_keys using (sweep_name, key)
    group by c.run_id
),

steps_from_end as (
    select
        *,
        row_number() over (partition by run_id order by step desc) as step_from_end
    from run_steps
),

step_aggregates as (
    select
        run_id,
        -- Averages in step order: in DuckDB's thread order the last digits would differ between builds.
        avg(reward_mean order by step) filter (step_from_end <= limit_sweep_final_steps())
            as reward_mean_last10,
        avg(kl order by step) as kl_mean_avg,
        max(kl_max) as kl_max_max,
        max(grad_norm) as grad_norm_max,
        avg(win_bonus_rate order by step) filter (step_from_end <= limit_sweep_final_steps())
            as win_bonus_rate_last10
    from steps_from_end
    group by run_id
),

base_model_final as (
    select
        run_id,
        final_elo
    from elo_agent_summary
    where agent = 'base_model'
),

ranked as (
    select
        m.sweep_name,
        m.sweep_run_letter,
        m.run_id,
        m.run_name,
        m.state,
        coalesce(v.varying_params, '{}') as varying_params,
        m.steps,
        l.final_elo_gap,
        l.max_elo_gap,
        b.final_elo as final_base_model_elo,
        s.reward_mean_last10,
        s.kl_mean_avg,
        s.kl_max_max,
        s.grad_norm_max,
        s.win_bonus_rate_last10,
        rank() over (partition by m.sweep_name order by l.final_elo_gap desc nulls last) as rank_by_elo_gap
    from members as m
    left join varying as v using (run_id)
    left join run_learning as l using (run_id)
    left join base_model_final as b using (run_id)
    left join step_aggregates as s using (run_id)
)

select
    *,
    rank_by_elo_gap = 1 and final_elo_gap is not null as is_winner,
    coalesce(kl_max_max > limit_kl_max_limit(), false) as unstable
from ranked
order by sweep_name, rank_by_elo_gap, sweep_run_letter, run_id
