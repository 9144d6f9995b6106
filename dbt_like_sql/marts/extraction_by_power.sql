-- extraction_by_power: order extraction per UTC day and power (field power_name; `power` never existed).
-- One order event per (power, phase) response: orders_extracted (status full, no_orders_needed, or
-- partial meaning over-extraction, which is capped at expected), orders_partial (0 < orders < expected),
-- orders_empty (0 orders where some were expected).
with responses as (
    select
        cast(timezone('UTC', event_time) as date) as day,
        power_name,
        event,
        coalesce(expected_count, 0) as expected,
        case when event = 'orders_empty' then 0 else least(coalesce(orders_count, 0), coalesce(expected_count, 0)) end
            as extracted
    from stg_axiom__events
    where event in ('orders_extracted', 'orders_partial', 'orders_empty') and power_name is not null
)

select
    day,
    power_name,
    count(*) as responses,
    count(*) filter (event = 'orders_extracted' and expected > 0 and extracted >= expected) as "full",
    count(*) filter (event = 'orders_partial') as partial,
    count(*) filter (event = 'orders_empty') as empty,
    count(*) filter (event = 'orders_extracted' and expected = 0) as no_orders_needed,
    sum(expected) as orders_expected,
    sum(extracted) as orders_extracted,
    sum(extracted) / nullif(sum(expected), 0) as extraction_rate,
    count(*) filter (event = 'orders_extracted' and expected > 0 and extracted >= expected)
        / nullif(count(*) filter (expected > 0), 0) as response_success_rate
from responses
group by day, power_name
order by day, power_name
