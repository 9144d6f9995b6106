-- `diplo inference-stats`: inference_timing_breakdown calls in the window ($start, $end, $end_inclusive),
-- with the inference_stats mart's statistics (macro inference_call_stats).
-- cli/inference_stats_by_adapter.sql gives one row per lora_name.
select
    unnest(inference_call_stats(
        batch_size,
        total_time_s,
        generation_time_s,
        adapter_load_time_s,
        input_tokens_per_second,
        output_tokens_per_second,
        tokens_generated,
        prefix_cache_hit_rate,
        event_id
    ))
from axiom_events
where event = 'inference_timing_breakdown' and in_window(event_time, $start, $end, $end_inclusive)
