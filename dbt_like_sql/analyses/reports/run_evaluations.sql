-- Evaluations of one run's checkpoints: run by it, or by an evaluation run naming it as the source.
select * from evaluations
where run_id = $run_id or source_run_name = $run_name
order by evaluation_step, kind, opponent, run_id
