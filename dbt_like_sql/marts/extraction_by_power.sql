-- extraction_by_power: order extraction per UTC day and power (field power_name; `power` never existed).
-- The statistics are the macro order_extraction_stats (macros/extraction.sql), which `diplo
-- extraction-stats` uses too: extraction_rate is orders-weighted (extracted / expected);
-- response_success_rate is the share of responses that needed orders and got all of them. Responses are
-- classified in int_axiom__order_responses.
select
    day,
    power_name,
    -- unnest gives the macro's struct as its named columns (there is no one alias to give)
    unnest(order_extraction_stats(response_kind, orders_expected, orders_extracted))  -- noqa: AL03
from int_axiom__order_responses
group by day, power_name
order by day, power_name
