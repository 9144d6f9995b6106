-- What each run's page shows of the rollouts (attributed to runs by name): a fingerprint per run name.
select
    t.run_name as key,
    rows_digest(t) as digest
from rollouts as t
where t.run_name is not null
group by t.run_name
