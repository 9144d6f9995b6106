-- `diplo export RUN`: every metric point of the run, both writes of a replayed step (with `write_seq`).
select
    run_id,
    step,
    wandb_step,
    timestamp,
    runtime_s,
    key,
    value,
    value_text,
    row_kind,
    write_seq
from metric_points
where run_id = $run_id
order by step, key, write_seq
