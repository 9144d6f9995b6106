-- materialized: view
-- int_axiom__order_responses: one row per (power, phase) response of the order parser, classified once
-- for every consumer (the extraction_by_power mart and `diplo extraction-stats`):
--   orders_extracted with expected_count = 0      -> no_orders_needed
--   orders_extracted (status full, or `partial` meaning over-extraction, capped at expected) -> full
--   orders_partial (0 < orders < expected)         -> partial
--   orders_empty (no orders where some were expected) -> empty
select
    event_id,
    event_time,
    cast(timezone('UTC', event_time) as date) as day,
    power_name,
    case
        when event = 'orders_empty' then 'empty'
        when event = 'orders_partial' then 'partial'
        when coalesce(expected_count, 0) = 0 then 'no_orders_needed'
        else 'full'
    end as response_kind,
    coalesce(expected_count, 0) as orders_expected,
    case
        when event = 'orders_empty' then 0
        else least(coalesce(orders_count, 0), coalesce(expected_count, 0))
    end as orders_extracted
from stg_axiom__events
where event in ('orders_extracted', 'orders_partial', 'orders_empty') and power_name is not null
