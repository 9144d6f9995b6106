-- `diplo run RUN`: the run's row (config and summary as JSON text; its metric definitions left out).
select * exclude (metric_definitions)
from runs
where run_id = $run_id
