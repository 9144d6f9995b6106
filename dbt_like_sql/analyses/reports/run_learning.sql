-- One run's learning summary (at most one row).
select * from run_learning
where run_id = $run_id
