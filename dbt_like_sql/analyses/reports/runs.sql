-- Every run, oldest first: the order of the tracker's comparisons and of the run pages.
select * from runs
order by created_at, run_id
