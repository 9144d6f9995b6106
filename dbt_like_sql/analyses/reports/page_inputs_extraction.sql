-- Order extraction by power, a fingerprint per UTC day: a run's page shows the days it was active.
select
    t.day as key,
    rows_digest(t) as digest
from extraction_by_power as t
group by t.day
