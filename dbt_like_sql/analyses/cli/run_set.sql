-- `diplo sweep --runs A B C`: any runs ($run_ids) judged as one sweep, by the same rules as the sweep_runs
-- and sweeps marts (int_sweeps__run_stats for the numbers; macros run_set_summary, sweep_verdict,
-- margin_half_width, gap_bands_overlap): one row, the verdict's columns as in sweeps, and sweep_runs, the
-- runs best first with cli/sweep_runs.sql's columns. Runs are named by their run name in the rankings.
with members as (
    select
        s.*,
        m.sweep_run_letter
    from int_sweeps__run_stats as s
    left join int_sweeps__membership as m using (run_id)
    where s.run_id = any($run_ids)
),

configs as (
    select
        run_id,
        key,
        config_value_json(value, value_text) as value
    from stg_wandb__config
    where run_id = any($run_ids) and not is_run_identity_key(key)
),

varying_keys as (
    select key
    from configs
    group by key
    -- A key that differs between the runs, or that only some of them set.
    having count(distinct value::varchar) > 1 or count(*) < (select count(*) from members)
),

varying as (
    select
        c.run_id,
        to_json(map_from_entries(list((c.key, c.value) order by c.key))) as varying_params
    from configs as c
    inner join varying_keys using (key)
    group by c.run_id
),

ranked as (
    select
        rank() over (order by m.final_elo_gap desc nulls last) as rank_by_elo_gap,
        m.sweep_run_letter,
        m.run_name,
        m.run_id,
        m.state,
        coalesce(v.varying_params, '{}') as varying_params,
        m.steps,
        m.final_base_model_elo,
        m.final_chaos_bot_elo,
        m.final_defensive_bot_elo,
        m.final_territorial_bot_elo,
        m.final_coordinated_bot_elo,
        m.final_dumb_bot_elo,
        m.final_random_bot_elo,
        m.best_checkpoint,
        m.best_checkpoint_elo,
        m.final_elo_gap,
        m.final_elo_gap_ci_low,
        m.final_elo_gap_ci_high,
        m.max_elo_gap,
        m.max_elo_gap_ci_low,
        m.max_elo_gap_ci_high,
        m.learning_signal,
        m.learning_signal_significant,
        m.kl_mean_avg,
        m.kl_max_max,
        m.grad_norm_max,
        m.avg_sc_count_last10,
        m.win_bonus_rate_last10,
        m.top3_rate_last10,
        m.reward_mean_last10,
        m.fixed_reference_drop,
        rank() over (order by m.final_base_model_elo asc nulls last) as rank_by_base_model_elo,
        rank() over (order by m.fixed_reference_drop desc nulls last) as rank_by_reference_drop,
        m.unstable
    from members as m
    left join varying as v using (run_id)
),

runs as (
    select
        *,
        rank_by_elo_gap = 1 and final_elo_gap is not null as is_winner
    from ranked
),

summary as (
    select
        count(*) as runs,
        count(*) filter (state = 'finished') as runs_finished,
        -- unnest gives the macro's struct as its named columns (there is no one alias to give)
        unnest(run_set_summary(  -- noqa: AL03
            run_name, run_id, run_name, rank_by_elo_gap, rank_by_base_model_elo, rank_by_reference_drop,
            final_elo_gap, final_elo_gap_ci_low, final_elo_gap_ci_high, unstable
        )),
        list(runs order by rank_by_elo_gap, run_name, run_id) as sweep_runs
    from runs
),

judged as (
    select
        *,
        winner_elo_gap - runner_up_elo_gap as margin,
        margin_half_width(
            winner_elo_gap_ci_low, winner_elo_gap_ci_high, runner_up_elo_gap_ci_low, runner_up_elo_gap_ci_high
        ) as margin_half_width
    from summary
)

select
    runs,
    runs_finished,
    winner_run_name,
    winner_elo_gap,
    winner_elo_gap_ci_low,
    winner_elo_gap_ci_high,
    runner_up_run_name,
    runner_up_elo_gap,
    runner_up_elo_gap_ci_low,
    runner_up_elo_gap_ci_high,
    margin,
    margin - margin_half_width as margin_ci_low,
    margin + margin_half_width as margin_ci_high,
    gap_bands_overlap(winner_elo_gap_ci_low, runner_up_elo_gap_ci_high) as bands_overlap,
    sweep_verdict(margin, winner_elo_gap_ci_low, runner_up_elo_gap_ci_high) as verdict,
    ranking,
    ranking_by_base_model_elo,
    ranking_by_reference_drop,
    unstable_runs,
    sweep_runs
from judged
