-- extraction_by_power: order extraction per UTC day and power (field power_name; `power` never existed).
-- extraction_rate is orders-weighted (extracted / expected); response_success_rate is the share of
-- responses that needed orders and got all of them. Responses are classified in int_axiom__order_responses.
select
    day,
    power_name,
    count(*) as responses,
    count(*) filter (response_kind = 'full') as "full",
    count(*) filter (response_kind = 'partial') as partial,
    count(*) filter (response_kind = 'empty') as empty,
    count(*) filter (response_kind = 'no_orders_needed') as no_orders_needed,
    sum(orders_expected) as orders_expected,
    sum(orders_extracted) as orders_extracted,
    sum(orders_extracted) / nullif(sum(orders_expected), 0) as extraction_rate,
    count(*) filter (response_kind = 'full') / nullif(count(*) filter (response_kind <> 'no_orders_needed'), 0)
        as response_success_rate
from int_axiom__order_responses
group by day, power_name
order by day, power_name
