-- materialized: table
-- run_steps: one row per (run_id, step) of training rows, the wide view a researcher reaches for first.
-- When a resumed run logged a step twice, the later write (highest write_seq) wins for the whole row.
-- Legacy keys of runs from before 2025-12-05 fill the same columns (source-data.md §1.10).
with train_points as (
    select
        run_id,
        step,
        write_seq,
        timestamp,
        wandb_step,
        key,
        value
    from stg_wandb__metric_points
    where row_kind = 'train'
),

latest_write as (
    select
        run_id,
        step,
        max(write_seq) as write_seq
    from train_points
    group by run_id, step
),

step_points as (
    select p.*
    from train_points as p
    inner join latest_write using (run_id, step, write_seq)
),

wide as (
    select
        run_id,
        step,
        max(timestamp) as timestamp,
        max(wandb_step) as wandb_step,
        coalesce(max(value) filter (key = 'benchmark/loss'), max(value) filter (key = 'loss/total')) as loss,
        coalesce(
            max(value) filter (key = 'benchmark/kl'),
            max(value) filter (key = 'kl/mean'),
            max(value) filter (key = 'loss/kl_divergence')
        ) as kl,
        max(value) filter (key = 'kl/max') as kl_max,
        max(value) filter (key = 'kl/beta') as kl_beta,
        coalesce(max(value) filter (key = 'benchmark/reward_mean'), max(value) filter (key = 'reward/mean'))
            as reward_mean,
        coalesce(max(value) filter (key = 'benchmark/reward_std'), max(value) filter (key = 'reward/std'))
            as reward_std,
        coalesce(max(value) filter (key = 'benchmark/grad_norm'), max(value) filter (key = 'training/grad_norm'))
            as grad_norm,
        coalesce(
            max(value) filter (key = 'benchmark/rollout_time_s'),
            max(value) filter (key = 'timing/rollout_ms') / 1000.0
        ) as rollout_time_s,
        coalesce(
            max(value) filter (key = 'benchmark/training_time_s'),
            max(value) filter (key = 'timing/training_ms') / 1000.0
        ) as training_time_s,
        max(value) filter (key = 'benchmark/pipeline_overlap_s') as pipeline_overlap_s,
        coalesce(
            max(value) filter (key = 'benchmark/trajectories'),
            max(value) filter (key = 'data/num_trajectories')
        ) as trajectories,
        max(value) filter (key = 'extraction/rate') as extraction_rate,
        max(value) filter (key = 'extraction/orders_expected') as orders_expected,
        max(value) filter (key = 'extraction/orders_extracted') as orders_extracted,
        max(value) filter (key = 'extraction/empty_responses') as empty_responses,
        max(value) filter (key = 'extraction/partial_responses') as partial_responses,
        max(value) filter (key = 'rollout/failed_count') as rollout_failed_count,
        max(value) filter (key = 'rollout/max_volume_reload_s') as rollout_max_volume_reload_s,
        max(value) filter (key = 'rollout/max_total_s') as rollout_max_total_s,
        max(value) filter (key = 'power_law/cumulative_simulated_years') as cumulative_simulated_years,
        max(value) filter (key = 'power_law/simulated_years_per_step') as simulated_years_per_step,
        max(value) filter (key = 'game/avg_sc_count') as avg_sc_count,
        max(value) filter (key = 'game/win_bonus_rate') as win_bonus_rate,
        max(value) filter (key = 'placement/top3_rate') as top3_rate,
        max(value) filter (key = 'ppo/clip_fraction') as clip_fraction,
        max(value) filter (key = 'policy/entropy_mean') as entropy_mean,
        max(value) filter (key = 'processing/skip_rate') as skip_rate,
        max(value) filter (key = 'cache/hit_rate') as cache_hit_rate,
        max(value) filter (key = 'league/num_checkpoints') as league_num_checkpoints
    from step_points
    group by run_id, step
)

select
    *,
    -- Throughput per second of rollout wall time; a prefetched step (rollout ≈ 0 s) has no meaningful rate.
    -- rate_min_rollout_s (thresholds.yml) tells them apart.
    case when rollout_time_s > limit_rate_min_rollout_s() then trajectories / rollout_time_s end
        as trajectories_per_s,
    case when rollout_time_s > limit_rate_min_rollout_s() then simulated_years_per_step / rollout_time_s end
        as sim_years_per_s,
    case when rollout_time_s > 0 then training_time_s / rollout_time_s end as train_rollout_ratio
from wide
order by run_id, step
