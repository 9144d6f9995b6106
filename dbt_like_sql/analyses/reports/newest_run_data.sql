-- The latest moment any run has data for.
select max(last_timestamp) as t from runs
