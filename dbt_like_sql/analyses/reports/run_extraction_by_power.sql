-- Order extraction by power over the UTC days a run was active (other runs on those days included): the
-- extraction_by_power mart's days added up, its rate orders-weighted as the mart weighs it
-- (the macro weighted_extraction_rate).
select
    power_name,
    sum(responses) as responses,
    sum(empty) as empty,
    sum(partial) as partial,
    sum(orders_expected) as orders_expected,
    sum(orders_extracted) as orders_extracted,
    weighted_extraction_rate(orders_extracted, orders_expected) as extraction_rate
from extraction_by_power
where day between $first_day and $last_day
group by power_name
order by extraction_rate
