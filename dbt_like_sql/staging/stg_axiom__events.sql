-- materialized: view
-- stg_axiom__events: every Axiom event, deduplicated at ingestion, with an hour for time-bucketed marts.
select
    *,
    date_trunc('hour', event_time) as event_hour
from raw_axiom__events
