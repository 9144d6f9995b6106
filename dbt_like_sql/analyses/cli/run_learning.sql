-- `diplo elo RUN`: the run's learning signal, best checkpoint and final Elo gap (run_learning).
select *
from run_learning
where run_id = $run_id
