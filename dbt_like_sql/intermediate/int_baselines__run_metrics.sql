-- int_baselines__run_metrics: one row per training run, the step aggregates run_baselines compares, each
-- mean with its standard error (the steps' spread / sqrt(steps); steps are treated as independent, so a
-- trending or autocorrelated series gets a band that is too narrow rather than too wide). Per run, so the
-- cross-run run_baselines reads one small row per run instead of every step.
with steps_from_end as (
    select
        run_id,
        step,
        reward_mean,
        kl_max,
        trajectories_per_s,
        row_number() over (partition by run_id order by step desc) as step_from_end
    from run_steps
),

final_reward as (
    select
        run_id,
        -- In step order: in DuckDB's thread order the last digits would differ between builds.
        avg(reward_mean order by step) as final_reward,
        stddev_samp(reward_mean order by step) / sqrt(count(reward_mean)) as final_reward_se,
        count(reward_mean) as final_reward_steps
    from steps_from_end
    where step_from_end <= limit_baseline_final_steps()
    group by run_id
),

whole_run as (
    select
        run_id,
        max(step) as last_step,
        max(kl_max) as kl_max,
        avg(trajectories_per_s order by step) as trajectories_per_s,
        stddev_samp(trajectories_per_s order by step) / sqrt(count(trajectories_per_s)) as trajectories_per_s_se,
        count(trajectories_per_s) as trajectories_per_s_steps
    from steps_from_end
    group by run_id
)

select
    w.run_id,
    w.last_step,
    f.final_reward,
    f.final_reward_se,
    f.final_reward_steps,
    w.kl_max,
    w.trajectories_per_s,
    w.trajectories_per_s_se,
    w.trajectories_per_s_steps
from whole_run as w
left join final_reward as f using (run_id)
order by w.run_id
