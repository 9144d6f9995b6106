-- `diplo inference-stats`: the inference engine calls in the window ($start, $end, $end_inclusive), with
-- the inference_stats mart's statistics (macro inference_call_stats over int_axiom__inference_calls).
-- cli/inference_stats_by_adapter.sql gives one row per lora_name.
select unnest(inference_call_stats(c))
from int_axiom__inference_calls as c
where in_window(c.event_time, $start, $end, $end_inclusive)
