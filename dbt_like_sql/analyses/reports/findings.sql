-- The findings of some runs, worst first.
select * from findings
where run_id = any($run_ids)
order by severity_rank(severity), run_name, step_start, rule
