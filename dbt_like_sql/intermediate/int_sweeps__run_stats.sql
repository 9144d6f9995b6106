-- int_sweeps__run_stats: one row per run, the numbers of analyze_sweep.py's two tables (Elo; stability and
-- outcomes) as run-wide aggregates, shared by the sweep_runs mart and `diplo sweep --runs` (any list of runs).
-- The fixed references are the league's baselines (base_model and the bots); fixed_reference_drop sums
-- initial − final over those rated (first observed rating, not analyze_sweep's assumed 1000). The best
-- checkpoint is the one leading at the last rated step, so final_elo_gap = best_checkpoint_elo −
-- final_base_model_elo.
with steps_from_end as (
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
            as win_bonus_rate_last10,
        avg(avg_sc_count order by step) filter (step_from_end <= limit_sweep_final_steps())
            as avg_sc_count_last10,
        avg(top3_rate order by step) filter (step_from_end <= limit_sweep_final_steps())
            as top3_rate_last10
    from steps_from_end
    group by run_id
),

final_gap as (
    select
        run_id,
        arg_max(best_checkpoint, step) as best_checkpoint,
        arg_max(best_checkpoint_elo, step) as best_checkpoint_elo
    from elo_gap
    group by run_id
),

references_final as (
    select
        run_id,
        max(final_elo) filter (agent = 'base_model') as final_base_model_elo,
        max(final_elo) filter (agent = 'chaos_bot') as final_chaos_bot_elo,
        max(final_elo) filter (agent = 'defensive_bot') as final_defensive_bot_elo,
        max(final_elo) filter (agent = 'territorial_bot') as final_territorial_bot_elo,
        max(final_elo) filter (agent = 'coordinated_bot') as final_coordinated_bot_elo,
        max(final_elo) filter (agent = 'dumb_bot') as final_dumb_bot_elo,
        max(final_elo) filter (agent = 'random_bot') as final_random_bot_elo,
        -- In agent order: a float sum in DuckDB's thread order differs in its last digits between builds.
        sum(initial_elo - final_elo order by agent) as fixed_reference_drop
    from elo_agent_summary
    where agent_kind = 'baseline'
    group by run_id
)

select
    r.run_id,
    r.run_name,
    r.state,
    r.steps_logged as steps,
    g.best_checkpoint,
    g.best_checkpoint_elo,
    l.final_elo_gap,
    l.final_elo_gap_ci_low,
    l.final_elo_gap_ci_high,
    l.max_elo_gap,
    l.max_elo_gap_ci_low,
    l.max_elo_gap_ci_high,
    l.learning_signal,
    l.learning_signal_significant,
    f.final_base_model_elo,
    f.final_chaos_bot_elo,
    f.final_defensive_bot_elo,
    f.final_territorial_bot_elo,
    f.final_coordinated_bot_elo,
    f.final_dumb_bot_elo,
    f.final_random_bot_elo,
    f.fixed_reference_drop,
    s.reward_mean_last10,
    s.kl_mean_avg,
    s.kl_max_max,
    s.grad_norm_max,
    s.win_bonus_rate_last10,
    s.avg_sc_count_last10,
    s.top3_rate_last10,
    coalesce(s.kl_max_max > limit_kl_max_limit(), false) as unstable
from stg_wandb__runs as r
left join final_gap as g using (run_id)
left join run_learning as l using (run_id)
left join references_final as f using (run_id)
left join step_aggregates as s using (run_id)
order by r.run_id
