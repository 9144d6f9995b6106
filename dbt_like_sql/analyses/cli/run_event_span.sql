-- `diplo ... --run RUN`: the first and last Axiom event attributed to the run (int_axiom__event_runs), the
-- window a per-run answer covers unless --last/--since/--until narrow it.
select
    min(event_time) as first_event,
    max(event_time) as last_event,
    count(*) as events
from int_axiom__event_runs
where run_name = $run_name
