-- `diplo compare RUN --baseline`: the run against the baseline run_baselines picked for it.
select *
from run_baselines
where run_id = $run_id
