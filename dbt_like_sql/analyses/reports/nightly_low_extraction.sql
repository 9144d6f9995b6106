-- The (day, power) pairs of the nightly digest's days whose extraction is below the target.
select
    day,
    power_name,
    extraction_rate,
    orders_expected,
    orders_extracted
from extraction_by_power
where
    day between cast($window_start as date) and cast($window_end as date)
    and extraction_rate < limit_extraction_rate_min()
order by extraction_rate
