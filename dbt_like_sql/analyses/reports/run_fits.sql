-- Every power-law fit a run's points went into: its own, its tags', its sweep's.
select * from power_law_fits
where list_contains(run_ids, $run_id)
order by scope, scope_id, model
