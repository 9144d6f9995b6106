-- How many warn or error findings each run has.
select
    run_id,
    count(*) as flagged
from findings
where severity in ('warn', 'error')
group by run_id
