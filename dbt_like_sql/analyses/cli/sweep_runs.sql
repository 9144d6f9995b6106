-- `diplo sweep NAME`: the sweep's runs side by side, best final Elo gap first (sweep_runs: run-wide
-- aggregates, not last-step values): analyze_sweep.py's Elo table (every fixed reference's final Elo, the
-- best checkpoint, the gap with its 95 % band), its stability table (KL mean and max, grad norm, supply
-- centers, win-bonus and top-3 rates, reward) and the three ranks. cli/run_set.sql selects the same columns.
select
    rank_by_elo_gap,
    sweep_run_letter,
    run_name,
    run_id,
    state,
    varying_params,
    steps,
    final_base_model_elo,
    final_chaos_bot_elo,
    final_defensive_bot_elo,
    final_territorial_bot_elo,
    final_coordinated_bot_elo,
    final_dumb_bot_elo,
    final_random_bot_elo,
    best_checkpoint,
    best_checkpoint_elo,
    final_elo_gap,
    final_elo_gap_ci_low,
    final_elo_gap_ci_high,
    max_elo_gap,
    max_elo_gap_ci_low,
    max_elo_gap_ci_high,
    learning_signal,
    learning_signal_significant,
    kl_mean_avg,
    kl_max_max,
    grad_norm_max,
    avg_sc_count_last10,
    win_bonus_rate_last10,
    top3_rate_last10,
    reward_mean_last10,
    fixed_reference_drop,
    rank_by_base_model_elo,
    rank_by_reference_drop,
    unstable,
    is_winner
from sweep_runs
where sweep_name = $sweep_name
order by rank_by_elo_gap, sweep_run_letter
