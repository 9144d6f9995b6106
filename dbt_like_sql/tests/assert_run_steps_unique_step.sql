-- run_steps has one row per (run_id, step): a re-logged step keeps only its later write.
select
    run_id,
    step,
    count(*) as copies
from run_steps
group by run_id, step
having count(*) > 1
