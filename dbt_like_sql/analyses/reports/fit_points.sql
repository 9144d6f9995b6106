-- The points a fit was made from, paired as the power_law_fits mart pairs them: x and y from the same
-- training row, the later write of a re-logged step winning. `series` is the run's name.
with pairs as (
    select
        run_id,
        step,
        write_seq,
        max(value) filter (where key = $x_metric) as x,
        max(value) filter (where key = $metric) as y
    from metric_points
    where row_kind = 'train' and key in ($x_metric, $metric) and run_id = any($run_ids)
    group by run_id, step, write_seq
)

select
    r.run_name as series,
    p.step,
    p.x,
    p.y
from pairs as p
inner join runs as r using (run_id)
where p.x is not null and p.y is not null
qualify row_number() over (partition by p.run_id, p.step order by p.write_seq desc) = 1
order by series, p.step
