-- materialized: view
-- int_axiom__inference_calls: one row per inference engine call (inference_timing_breakdown), with its
-- hour and adapter kind (macro adapter_kind), for every consumer: the inference_stats mart and `diplo
-- inference-stats`, both through the macro inference_call_stats.
select
    event_id,
    event_time,
    event_hour as hour,
    lora_name,
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
