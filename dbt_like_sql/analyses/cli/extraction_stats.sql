-- `diplo extraction-stats`: order extraction in the window ($start, $end, $end_inclusive), over the
-- responses int_axiom__order_responses classifies, with the extraction_by_power mart's statistics
-- (macro order_extraction_stats). cli/extraction_stats_by_power.sql gives one row per power. $run_name
-- (NULL: every run) keeps the responses int_axiom__event_runs attributes to that run.
select unnest(order_extraction_stats(response_kind, orders_expected, orders_extracted))
from int_axiom__order_responses
where
    in_window(event_time, $start, $end, $end_inclusive)
    and ($run_name is null or event_id in (
        select a.event_id from int_axiom__event_runs as a
        where a.run_name = $run_name
    ))
