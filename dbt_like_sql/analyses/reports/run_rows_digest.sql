-- Without the lake's files to go by (a reader of the catalog alone): each run's rows of one per-run table
-- ($table), a fingerprint per run id.
select
    t.run_id as key,
    rows_digest(t) as digest
from query_table($table) as t
group by t.run_id
