-- `diplo artifacts RUN` and `diplo run RUN`: each W&B Table the run logged (key and step), its rows and columns.
select
    key,
    step,
    count(*) as table_rows,
    json_keys(any_value(row order by row_index)) as table_columns,
    any_value(table_path) as table_path
from run_tables
where run_id = $run_id
group by key, step
order by key, step
