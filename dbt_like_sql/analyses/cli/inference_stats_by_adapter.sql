-- `diplo inference-stats --by-adapter`: cli/inference_stats.sql per lora_name (as axiom_cli grouped
-- them), each with the adapter kind of the inference_stats mart.
select
    c.lora_name,
    c.adapter_kind,
    -- unnest gives the macro's struct as its named columns (there is no one alias to give)
    unnest(inference_call_stats(c))  -- noqa: AL03
from int_axiom__inference_calls as c
where
    in_window(c.event_time, $start, $end, $end_inclusive)
    and ($run_name is null or c.event_id in (
        select a.event_id from int_axiom__event_runs as a
        where a.run_name = $run_name
    ))
group by c.lora_name, c.adapter_kind
order by c.lora_name
