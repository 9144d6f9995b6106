-- `diplo metrics` and `diplo compare`: the points of the runs $run_ids, of the keys $keys (NULL: every
-- key), each key at its own steps; a step a resumed run logged twice keeps its later write (as
-- elo_ratings does). In the order of $x_axis ('step', '_step' = wandb_step, 'timestamp', or '_runtime' =
-- runtime_s, the seconds since the run started).
select
    run_id,
    key,
    step,
    wandb_step,
    timestamp,
    runtime_s,
    value,
    value_text
from metric_points
where
    run_id in (select unnest(cast($run_ids as varchar[])))
    and (cast($keys as varchar[]) is null or key in (select unnest(cast($keys as varchar[]))))
qualify write_seq = max(write_seq) over (partition by run_id, row_kind, step, key)
order by
    run_id,
    key,
    case when $x_axis = '_step' then wandb_step end,
    case when $x_axis = 'timestamp' then timestamp end,
    case when $x_axis = '_runtime' then runtime_s end,
    step
