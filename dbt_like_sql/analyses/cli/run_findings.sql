-- `diplo findings RUN`: the run's findings whose severity is in $wanted, in step order, the most severe
-- first within a step ($severities lists every severity, least severe first).
select
    rule,
    severity,
    step_start,
    step_end,
    value,
    threshold,
    message,
    hypothesis
from findings
where run_id = $run_id and list_contains($wanted, severity)
order by step_start asc nulls first, list_position($severities, severity) desc, rule
