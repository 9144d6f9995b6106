-- The experiment tracker's baseline line of each run: its run_baselines row.
select *
from run_baselines
order by run_id
