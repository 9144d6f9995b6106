-- inference_stats: inference engine calls per hour and adapter kind, from inference_timing_breakdown.
-- lora_name is `mixed:{N}_adapters` for rollout calls (N = 0 means base model only), an adapter path for
-- evaluation calls, and null for legacy base-only calls. Averages add the calls in event_id order, so every
-- build gets the same last digits.
with calls as (
    select
        event_id,
        event_hour as hour,
        case
            when lora_name is null or lora_name = 'mixed:0_adapters' then 'base'
            when lora_name like 'mixed:%' then 'mixed'
            else 'single'
        end as adapter_kind,
        batch_size,
        generation_time_s,
        adapter_load_time_s,
        total_time_s,
        output_tokens_per_second,
        input_tokens_per_second,
        tokens_generated
    from stg_axiom__events
    where event = 'inference_timing_breakdown'
)

select
    hour,
    adapter_kind,
    count(*) as requests,
    avg(batch_size) as avg_batch_size,  -- an integer average is exact in any order
    avg(generation_time_s order by event_id) as avg_generation_time_s,
    avg(adapter_load_time_s order by event_id) as avg_adapter_load_time_s,
    quantile_cont(total_time_s, 0.95) as p95_total_time_s,
    avg(output_tokens_per_second order by event_id) as avg_output_tps,
    avg(input_tokens_per_second order by event_id) as avg_input_tps,
    sum(tokens_generated) as tokens_generated
from calls
group by hour, adapter_kind
order by hour, adapter_kind
