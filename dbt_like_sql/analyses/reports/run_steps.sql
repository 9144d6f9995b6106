-- One run's training steps.
select * from run_steps
where run_id = $run_id
order by step
