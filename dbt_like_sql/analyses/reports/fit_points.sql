-- The points a fit was made from, paired as the power_law_fits mart pairs them (the macro metric_pairs).
-- `series` is the run's name.
select
    r.run_name as series,
    p.step,
    p.x,
    p.y
from metric_pairs('metric_points', $x_metric, $metric, $run_ids) as p
inner join runs as r using (run_id)
order by series, p.step
