-- The findings of some runs, worst first.
select * from findings
where run_id = any($run_ids)
order by case severity when 'error' then 0 when 'warn' then 1 else 2 end, run_name, step_start, rule
