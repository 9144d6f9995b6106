-- run_learning: one row per run with ratings. learning_signal (analyze_elo's rule, limits from
-- thresholds.yml): `positive` when more than learning_signal_declining_share of the run's checkpoints are
-- declining (newer ones beat them), `moderate` when any is, `weak` when none. base_model_trend: final −
-- initial base_model Elo below −baseline_rise_max `declining`, above +baseline_rise_max `rising`, else
-- `stable`. Two checkpoints with the same peak: the later one is best_checkpoint (as in elo_gap).
-- learning_signal_significant: the final gap's 95 % band excludes 0 (macro gap_band_excludes_zero); a
-- missing band is never significant. The largest gap carries the band of its step (ties: the later step).
with checkpoints as (
    select
        run_id,
        arg_max(agent, (peak_elo, checkpoint_step, agent)) as best_checkpoint,
        max(peak_elo) as best_checkpoint_peak_elo,
        count(*) as checkpoints,
        count(*) filter (trend = 'declining') as checkpoints_declining
    from elo_agent_summary
    where agent_kind = 'checkpoint'
    group by run_id
),

gaps as (
    select
        run_id,
        arg_max(elo_gap, step) as final_elo_gap,
        max(elo_gap) as max_elo_gap,
        arg_max(elo_gap_ci_low, (elo_gap, step)) as max_elo_gap_ci_low,
        arg_max(elo_gap_ci_high, (elo_gap, step)) as max_elo_gap_ci_high,
        arg_max(elo_gap_ci_low, step) as final_elo_gap_ci_low,
        arg_max(elo_gap_ci_high, step) as final_elo_gap_ci_high,
        arg_max(baseline_exploitation, step) as baseline_exploitation
    from elo_gap
    group by run_id
),

rated as (
    select distinct run_id
    from elo_agent_summary
),

base_model as (
    select
        run_id,
        change as base_model_change
    from elo_agent_summary
    where agent = 'base_model'
)

select
    r.run_id,
    r.run_name,
    c.best_checkpoint,
    c.best_checkpoint_peak_elo,
    g.final_elo_gap,
    g.max_elo_gap,
    g.max_elo_gap_ci_low,
    g.max_elo_gap_ci_high,
    g.final_elo_gap_ci_low,
    g.final_elo_gap_ci_high,
    g.baseline_exploitation,
    coalesce(c.checkpoints, 0) as checkpoints,
    coalesce(c.checkpoints_declining, 0) as checkpoints_declining,
    case
        when c.checkpoints_declining > c.checkpoints * limit_learning_signal_declining_share() then 'positive'
        when c.checkpoints_declining > 0 then 'moderate'
        else 'weak'
    end as learning_signal,
    gap_band_excludes_zero(g.final_elo_gap_ci_low, g.final_elo_gap_ci_high) as learning_signal_significant,
    case
        when b.base_model_change < -limit_baseline_rise_max() then 'declining'
        when b.base_model_change > limit_baseline_rise_max() then 'rising'
        when b.base_model_change is not null then 'stable'
    end as base_model_trend
from stg_wandb__runs as r
inner join rated using (run_id)
left join checkpoints as c using (run_id)
left join gaps as g using (run_id)
left join base_model as b using (run_id)
order by r.run_id
