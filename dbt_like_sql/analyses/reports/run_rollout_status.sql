-- One run's rollouts by final status, with their wall time as rollout_timing measures it (its percentiles
-- of duration_s), over every rollout of the run instead of one day's completed ones.
-- TODO(issue 11): the p50/p95 expressions become the rollout-timing macros of dbt_like_sql/macros/.
select
    status,
    count(*) as rollouts,
    quantile_cont(duration_s, 0.5) as p50_s,
    quantile_cont(duration_s, 0.95) as p95_s,
    max(duration_s) as max_s,
    count(*) filter (where error is not null) as with_error
from rollouts
where run_name = $run_name
group by status
order by status
