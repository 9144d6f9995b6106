-- `diplo inference-stats --by-adapter`: cli/inference_stats.sql per lora_name (as axiom_cli grouped
-- them), each with the adapter kind of the inference_stats mart (macro adapter_kind).
select
    lora_name,
    adapter_kind(lora_name) as adapter_kind,
    -- unnest gives the macro's struct as its named columns (there is no one alias to give)
    unnest(inference_call_stats(  -- noqa: AL03
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
group by lora_name
order by lora_name
