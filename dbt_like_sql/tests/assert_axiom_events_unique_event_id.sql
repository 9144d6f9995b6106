-- The same Axiom event from two overlapping exports is stored once.
select
    event_id,
    count(*) as copies
from axiom_events
group by event_id
having count(*) > 1
