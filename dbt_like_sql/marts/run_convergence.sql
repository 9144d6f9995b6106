-- run_convergence: per training run (a run with run_steps rows) and target, the first step at which the run
-- reaches the target, the simulated game-years it had used by then and the value there; NULL when never
-- reached. Targets (every number a limit of thresholds.yml, the name made from it):
--   elo_gap_<n>: elo_gap (the best checkpoint's carried-forward rating − base_model's) ≥ n, for
--     elo_gap_target_low and elo_gap_target_high;
--   reward_mean_<n>: the trailing mean of reward_mean over reward_smoothing_steps steps ≥ n (one noisy step is
--     not convergence), for reward_target_low and reward_target_high;
--   extraction_rate_<n>: extraction_rate ≥ extraction_rate_min after the warm-up (the first early_steps steps).
-- simulated_years_reached is run_steps.cumulative_simulated_years at the latest training step at or before
-- step_reached. best_value is the best value the run reached (how far it got when it never reached the target).
with targets as (
    select
        t.metric,
        t.threshold
    from (
        values
        ('elo_gap', limit_elo_gap_target_low()),
        ('elo_gap', limit_elo_gap_target_high()),
        ('reward_mean', limit_reward_target_low()),
        ('reward_mean', limit_reward_target_high()),
        ('extraction_rate', limit_extraction_rate_min())
    ) as t (metric, threshold)
),

-- The trailing mean as a difference of running sums (a frame's length cannot come from a macro in every
-- SQL parser the project lints with); counts skip NULL rewards as avg() would.
numbered as (
    select
        run_id,
        step,
        extraction_rate,
        row_number() over (partition by run_id order by step) as step_number,
        sum(reward_mean) over (partition by run_id order by step rows unbounded preceding) as reward_sum,
        count(reward_mean) over (partition by run_id order by step rows unbounded preceding) as reward_count
    from run_steps
),

smoothed as (
    select
        run_id,
        step,
        extraction_rate,
        step_number,
        (
            reward_sum
            - coalesce(lag(reward_sum, cast(limit_reward_smoothing_steps() as integer)) over by_step, 0)
        ) / nullif(
            reward_count
            - coalesce(lag(reward_count, cast(limit_reward_smoothing_steps() as integer)) over by_step, 0),
            0
        ) as reward_smoothed
    from numbered
    window by_step as (partition by run_id order by step)
),

points as (
    select
        run_id,
        step,
        'elo_gap' as metric,
        elo_gap as value
    from elo_gap
    where elo_gap is not null
    union all
    select
        run_id,
        step,
        'reward_mean' as metric,
        reward_smoothed as value
    from smoothed
    where reward_smoothed is not null
    union all
    select
        run_id,
        step,
        'extraction_rate' as metric,
        extraction_rate as value
    from smoothed
    where extraction_rate is not null and step_number > limit_early_steps()
),

trained as (
    select distinct run_id
    from run_steps
),

grid as (
    select
        r.run_id,
        t.metric,
        t.threshold,
        convergence_target(t.metric, t.threshold) as target
    from trained as r
    cross join targets as t
),

reached as (
    select
        g.run_id,
        g.target,
        min(p.step) filter (p.value >= g.threshold) as step_reached,
        arg_min(p.value, p.step) filter (p.value >= g.threshold) as value_at_step,
        max(p.value) as best_value
    from grid as g
    inner join points as p on g.run_id = p.run_id and g.metric = p.metric
    group by g.run_id, g.target
),

years as (
    select
        run_id,
        step,
        cumulative_simulated_years
    from run_steps
    where cumulative_simulated_years is not null
),

with_years as (
    select
        r.*,
        -- An ASOF join matches a NULL step_reached too (to the last row): never reached has no years.
        case when r.step_reached is not null then y.cumulative_simulated_years end as simulated_years_reached
    from reached as r
    asof left join years as y on r.run_id = y.run_id and r.step_reached >= y.step
)

select
    g.run_id,
    g.target,
    g.metric,
    g.threshold,
    w.step_reached,
    w.simulated_years_reached,
    w.value_at_step,
    w.best_value
from grid as g
left join with_years as w using (run_id, target)
order by g.run_id, g.metric, g.threshold
