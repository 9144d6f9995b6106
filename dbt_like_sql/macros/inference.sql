-- Inference engine calls (inference_timing_breakdown events, one row each in int_axiom__inference_calls),
-- shared by the inference_stats mart (per hour and adapter kind) and `diplo inference-stats` (per window,
-- optionally per lora_name).

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
-- `call` is the row of a call itself (nine of its fields are read, so the row rather than nine arguments):
-- an int_axiom__inference_calls row, `inference_call_stats(c)` over `int_axiom__inference_calls as c`.
-- Float averages add the calls in event_id order, so every build gets the same last digits (an integer
-- average, avg_batch_size, is exact in any order).
create or replace macro inference_call_stats(call) as {
    'requests': count(*),
    'avg_batch_size': avg(call.batch_size),
    'avg_total_time_s': avg(call.total_time_s order by call.event_id),
    'avg_generation_time_s': avg(call.generation_time_s order by call.event_id),
    'avg_adapter_load_time_s': avg(call.adapter_load_time_s order by call.event_id),
    'p95_total_time_s': quantile_cont(call.total_time_s, 0.95),
    'avg_input_tps': avg(call.input_tokens_per_second order by call.event_id),
    'avg_output_tps': avg(call.output_tokens_per_second order by call.event_id),
    'tokens_generated': sum(call.tokens_generated),
    'avg_cache_hit_rate': avg(call.prefix_cache_hit_rate order by call.event_id)
};
