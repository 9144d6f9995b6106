-- Inference engine calls (inference_timing_breakdown events), shared by the inference_stats mart (per hour
-- and adapter kind) and `diplo inference-stats` (per window, optionally per lora_name).

-- The adapter kind of a call from its lora_name: `mixed:{N}_adapters` for rollout calls (N = 0 means the
-- base model only), an adapter path for evaluation calls, NULL for legacy base-only calls.
create or replace macro adapter_kind(lora_name) as (
    case
        when lora_name is null or lora_name = 'mixed:0_adapters' then 'base'
        when lora_name like 'mixed:%' then 'mixed'
        else 'single'
    end
);

-- The statistics of a group of calls, as one struct (`unnest(...)` gives the columns requests,
-- avg_batch_size, avg_total_time_s, avg_generation_time_s, avg_adapter_load_time_s, p95_total_time_s,
-- avg_input_tps, avg_output_tps, tokens_generated, avg_cache_hit_rate; the grouping is the caller's).
-- Float averages add the calls in event_id order, so every build gets the same last digits (an integer
-- average, avg_batch_size, is exact in any order).
create or replace macro inference_call_stats(
    batch_size,
    total_time_s,
    generation_time_s,
    adapter_load_time_s,
    input_tokens_per_second,
    output_tokens_per_second,
    tokens_generated,
    prefix_cache_hit_rate,
    event_id
) as {
    'requests': count(*),
    'avg_batch_size': avg(batch_size),
    'avg_total_time_s': avg(total_time_s order by event_id),
    'avg_generation_time_s': avg(generation_time_s order by event_id),
    'avg_adapter_load_time_s': avg(adapter_load_time_s order by event_id),
    'p95_total_time_s': quantile_cont(total_time_s, 0.95),
    'avg_input_tps': avg(input_tokens_per_second order by event_id),
    'avg_output_tps': avg(output_tokens_per_second order by event_id),
    'tokens_generated': sum(tokens_generated),
    'avg_cache_hit_rate': avg(prefix_cache_hit_rate order by event_id)
};
