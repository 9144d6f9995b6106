-- Every run appears once in runs.
select
    run_id,
    count(*) as copies
from runs
group by run_id
having count(*) > 1
