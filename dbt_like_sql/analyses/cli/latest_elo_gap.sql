-- `diplo elo RUN`: the checkpoint leading at the run's last rated step (elo_gap).
select
    step,
    best_checkpoint
from elo_gap
where run_id = $run_id
order by step desc
limit 1
