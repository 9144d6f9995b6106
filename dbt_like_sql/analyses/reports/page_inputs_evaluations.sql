-- The evaluations other runs made of a run's checkpoints (they name it as their source): a fingerprint per
-- source run name, and the evaluation runs behind it (a page re-rendered for that run reads their rows).
select
    t.source_run_name as key,
    rows_digest(t) as digest,
    list(distinct t.run_id order by t.run_id) as run_ids
from evaluations as t
where t.source_run_name is not null
group by t.source_run_name
