-- materialized: view
-- int_findings__runs: what the run-level finding rules need from runs (state, last step, EMA reference).
select
    run_id,
    run_name,
    state,
    last_step,
    total_steps,
    coalesce(try_cast(json_extract_string(config, '$.use_ema_reference') as boolean), false)
        as use_ema_reference
from stg_wandb__runs
