-- The latest Axiom event.
select max(event_time) as t from axiom_events
