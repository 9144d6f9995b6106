-- The points of the power_law_fits mart: one (compute, metric) pair per (run, step) (the macro
-- metric_pairs). Compute is positive by definition; a zero or negative value is a logging artefact and
-- has no logarithm.
select
    pairs.run_id,
    pairs.step,
    pairs.x,
    pairs.y
from metric_pairs('metric_points', $x_metric, $metric, null) as pairs
where pairs.x > 0
order by pairs.run_id, pairs.step
