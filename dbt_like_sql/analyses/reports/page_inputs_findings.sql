-- Each run's findings: a fingerprint per run id.
select
    t.run_id as key,
    rows_digest(t) as digest
from findings as t
group by t.run_id
