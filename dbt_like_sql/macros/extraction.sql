-- Order extraction statistics, shared by the extraction_by_power mart (per day and power), `diplo
-- extraction-stats` (per window) and the run report (per power over a run's days). Responses are
-- classified once, in int_axiom__order_responses (response_kind, orders_expected, orders_extracted).

-- The orders-weighted extraction rate of a group: orders extracted / orders expected. Sums compose, so
-- the same macro serves response rows and extraction_by_power's per-day rows.
create or replace macro weighted_extraction_rate(orders_extracted, orders_expected) as (
    sum(orders_extracted) / nullif(sum(orders_expected), 0)
);

-- The order extraction of a group of parser responses (int_axiom__order_responses rows), as one struct
-- (`unnest(...)` in the select list gives the columns responses, full, partial, empty, no_orders_needed,
-- orders_expected, orders_extracted, extraction_rate, response_success_rate; the grouping is the caller's).
-- response_success_rate is the share of the responses that needed orders that got all of them.
create or replace macro order_extraction_stats(response_kind, orders_expected, orders_extracted) as {
    'responses': count(*),
    'full': count(*) filter (where response_kind = 'full'),
    'partial': count(*) filter (where response_kind = 'partial'),
    'empty': count(*) filter (where response_kind = 'empty'),
    'no_orders_needed': count(*) filter (where response_kind = 'no_orders_needed'),
    'orders_expected': sum(orders_expected),
    'orders_extracted': sum(orders_extracted),
    'extraction_rate': weighted_extraction_rate(orders_extracted, orders_expected),
    'response_success_rate': (
        count(*) filter (where response_kind = 'full')
        / nullif(count(*) filter (where response_kind <> 'no_orders_needed'), 0)
    )
};
