-- Every run's id and name: the names a misspelt run is matched against, and the runs the report file
-- names are chosen among.
select
    run_id,
    run_name
from runs
order by run_id
