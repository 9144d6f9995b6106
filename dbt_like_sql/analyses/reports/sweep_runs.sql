-- The runs of one sweep, best first.
select * from sweep_runs
where sweep_name = $sweep_name
order by rank_by_elo_gap nulls last, sweep_run_letter
