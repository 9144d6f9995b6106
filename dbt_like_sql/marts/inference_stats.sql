-- inference_stats: inference engine calls per hour and adapter kind, from inference_timing_breakdown.
-- The calls and their adapter kinds are int_axiom__inference_calls, the statistics the macro
-- inference_call_stats (macros/inference.sql), both of which `diplo inference-stats` uses too; averages add
-- the calls in event_id order, so every build gets the same last digits.
with hourly as (
    select
        c.hour,
        c.adapter_kind,
        inference_call_stats(c) as stats
    from int_axiom__inference_calls as c
    group by c.hour, c.adapter_kind
)

select
    h.hour,
    h.adapter_kind,
    h.stats.requests,
    h.stats.avg_batch_size,
    h.stats.avg_generation_time_s,
    h.stats.avg_adapter_load_time_s,
    h.stats.p95_total_time_s,
    h.stats.avg_output_tps,
    h.stats.avg_input_tps,
    h.stats.tokens_generated
from hourly as h
order by h.hour, h.adapter_kind
