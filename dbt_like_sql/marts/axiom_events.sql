-- materialized: view
-- axiom_events: every ingested Axiom event, deduplicated, known fields typed, the whole event in payload.
select * exclude (event_hour)
from stg_axiom__events
