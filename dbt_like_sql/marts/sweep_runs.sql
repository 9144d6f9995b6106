-- sweep_runs: one row per run of a sweep, with run-wide aggregates (not just the last step's values:
-- int_sweeps__run_stats), the config keys that vary across the sweep, and analyze_sweep's three rankings
-- within the sweep: by final Elo gap (1 = best), by base_model's final Elo (lowest first: the league beats
-- it most) and by the fixed references' total drop (largest first). Ties share a rank.
with members as (
    select
        m.sweep_name,
        m.sweep_run_letter,
        s.*
    from int_sweeps__membership as m
    inner join int_sweeps__run_stats as s using (run_id)
),

configs as (
    select
        m.sweep_name,
        m.run_id,
        c.key,
        config_value_json(c.value, c.value_text) as value
    from members as m
    inner join stg_wandb__config as c using (run_id)
    where not is_run_identity_key(c.key)
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

ranked as (
    select
        m.sweep_name,
        m.sweep_run_letter,
        m.run_id,
        m.run_name,
        m.state,
        coalesce(v.varying_params, '{}') as varying_params,
        m.steps,
        m.final_elo_gap,
        m.max_elo_gap,
        m.final_base_model_elo,
        m.reward_mean_last10,
        m.kl_mean_avg,
        m.kl_max_max,
        m.grad_norm_max,
        m.win_bonus_rate_last10,
        rank() over (partition by m.sweep_name order by m.final_elo_gap desc nulls last) as rank_by_elo_gap,
        m.unstable,
        m.final_elo_gap_ci_low,
        m.final_elo_gap_ci_high,
        m.max_elo_gap_ci_low,
        m.max_elo_gap_ci_high,
        m.best_checkpoint,
        m.best_checkpoint_elo,
        m.learning_signal,
        m.learning_signal_significant,
        m.final_chaos_bot_elo,
        m.final_defensive_bot_elo,
        m.final_territorial_bot_elo,
        m.final_coordinated_bot_elo,
        m.final_dumb_bot_elo,
        m.final_random_bot_elo,
        m.fixed_reference_drop,
        m.avg_sc_count_last10,
        m.top3_rate_last10,
        rank() over (partition by m.sweep_name order by m.final_base_model_elo asc nulls last)
            as rank_by_base_model_elo,
        rank() over (partition by m.sweep_name order by m.fixed_reference_drop desc nulls last)
            as rank_by_reference_drop
    from members as m
    left join varying as v using (run_id)
)

-- WAREHOUSE.md's first columns in their order, then analyze_sweep's (the columns added since).
select
    sweep_name,
    sweep_run_letter,
    run_id,
    run_name,
    state,
    varying_params,
    steps,
    final_elo_gap,
    max_elo_gap,
    final_base_model_elo,
    reward_mean_last10,
    kl_mean_avg,
    kl_max_max,
    grad_norm_max,
    win_bonus_rate_last10,
    rank_by_elo_gap,
    rank_by_elo_gap = 1 and final_elo_gap is not null as is_winner,
    unstable,
    final_elo_gap_ci_low,
    final_elo_gap_ci_high,
    max_elo_gap_ci_low,
    max_elo_gap_ci_high,
    best_checkpoint,
    best_checkpoint_elo,
    learning_signal,
    learning_signal_significant,
    final_chaos_bot_elo,
    final_defensive_bot_elo,
    final_territorial_bot_elo,
    final_coordinated_bot_elo,
    final_dumb_bot_elo,
    final_random_bot_elo,
    fixed_reference_drop,
    avg_sc_count_last10,
    top3_rate_last10,
    rank_by_base_model_elo,
    rank_by_reference_drop
from ranked
order by sweep_name, rank_by_elo_gap, sweep_run_letter, run_id
