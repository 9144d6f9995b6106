-- materialized: view
-- int_findings__run_steps: run_steps plus the boolean the invalid-EMA-reference rule needs
-- (benchmark/used_cached_ref_logprobs is text in metric_points, so run_steps has no column for it).
-- As in run_steps, the later write of a re-logged step wins.
with cached_ref as (
    select
        run_id,
        step,
        lower(arg_max(value_text, write_seq)) = 'true' as used_cached_ref_logprobs
    from stg_wandb__metric_points
    where key = 'benchmark/used_cached_ref_logprobs' and row_kind = 'train'
    group by run_id, step
)

select
    s.*,
    c.used_cached_ref_logprobs
from run_steps as s
left join cached_ref as c using (run_id, step)
