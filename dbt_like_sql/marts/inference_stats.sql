-- inference_stats: inference engine calls per hour and adapter kind, from inference_timing_breakdown.
-- The adapter kind and the statistics are the macros adapter_kind and inference_call_stats
-- (macros/inference.sql), which `diplo inference-stats` uses too; averages add the calls in event_id
-- order, so every build gets the same last digits.
with calls as (
    select
        event_id,
        event_hour as hour,
        adapter_kind(lora_name) as adapter_kind,
        batch_size,
        total_time_s,
        generation_time_s,
        adapter_load_time_s,
        input_tokens_per_second,
        output_tokens_per_second,
        tokens_generated,
        prefix_cache_hit_rate
    from stg_axiom__events
    where event = 'inference_timing_breakdown'
),

hourly as (
    select
        hour,
        adapter_kind,
        inference_call_stats(
            batch_size,
            total_time_s,
            generation_time_s,
            adapter_load_time_s,
            input_tokens_per_second,
            output_tokens_per_second,
            tokens_generated,
            prefix_cache_hit_rate,
            event_id
        ) as stats
    from calls
    group by hour, adapter_kind
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
