-- The latest Axiom event in the warehouse: where a `--last` window ends unless `--until` says otherwise
-- (exports may be days old; counting back from the wall clock would find nothing).
select max(event_time) as latest
from axiom_events
