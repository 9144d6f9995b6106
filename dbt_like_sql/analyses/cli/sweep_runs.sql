-- `diplo sweep NAME`: the sweep's runs side by side, best final Elo gap first (sweep_runs: run-wide
-- aggregates, not last-step values).
select
    rank_by_elo_gap,
    sweep_run_letter,
    run_name,
    run_id,
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
    unstable,
    is_winner
from sweep_runs
where sweep_name = $sweep_name
order by rank_by_elo_gap, sweep_run_letter
