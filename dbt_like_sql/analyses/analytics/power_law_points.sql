-- The points of the power_law_fits mart: one (compute, metric) pair per (run, step), from the training
-- row that logged both keys, the later write of a re-logged step winning. Compute is positive by
-- definition; a zero or negative value is a logging artefact and has no logarithm.
with train_rows as (
    select
        run_id,
        step,
        write_seq,
        max(value) filter (where key = $x_metric) as x,
        max(value) filter (where key = $metric) as y
    from metric_points
    where row_kind = 'train' and key in ($x_metric, $metric)
    group by run_id, step, write_seq
),

latest_pair as (
    select
        run_id,
        step,
        x,
        y
    from train_rows
    where x is not null and y is not null
    qualify row_number() over (partition by run_id, step order by write_seq desc) = 1
)

select
    run_id,
    step,
    x,
    y
from latest_pair
where x > 0
order by run_id, step
