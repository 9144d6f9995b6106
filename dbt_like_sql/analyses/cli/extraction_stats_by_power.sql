-- `diplo extraction-stats --by-power`: cli/extraction_stats.sql per power.
select
    power_name,
    -- unnest gives the macro's struct as its named columns (there is no one alias to give)
    unnest(order_extraction_stats(response_kind, orders_expected, orders_extracted))  -- noqa: AL03
from int_axiom__order_responses
where
    in_window(event_time, $start, $end, $end_inclusive)
    and ($run_name is null or event_id in (
        select a.event_id from int_axiom__event_runs as a
        where a.run_name = $run_name
    ))
group by power_name
order by power_name
