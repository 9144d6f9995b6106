-- The runs whose id or name is $text (`diplo run`, `elo`, ...: a run given by its id or its name).
select
    run_id,
    run_name
from runs
where run_id = $text or run_name = $text
order by run_id
