-- `diplo inference-stats`: the inference engine calls in the window ($start, $end, $end_inclusive), with
-- the inference_stats mart's statistics (macro inference_call_stats over int_axiom__inference_calls).
-- cli/inference_stats_by_adapter.sql gives one row per lora_name. $run_name (NULL: every run) keeps the
-- calls int_axiom__event_runs attributes to that run (the one training run whose window holds them).
select unnest(inference_call_stats(c))
from int_axiom__inference_calls as c
where
    in_window(c.event_time, $start, $end, $end_inclusive)
    and ($run_name is null or c.event_id in (
        select a.event_id from int_axiom__event_runs as a
        where a.run_name = $run_name
    ))
