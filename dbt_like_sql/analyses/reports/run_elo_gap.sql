-- One run's Elo gap (best checkpoint - base_model) per rated step.
select * from elo_gap
where run_id = $run_id
order by step
