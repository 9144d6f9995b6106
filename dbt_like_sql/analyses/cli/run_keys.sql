-- The metric keys the runs $run_ids logged.
select distinct key
from metric_points
where run_id in (select unnest(cast($run_ids as varchar[])))
order by key
