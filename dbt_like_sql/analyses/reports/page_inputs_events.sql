-- The Axiom events attributed to each run (int_axiom__event_runs), from which its page computes the run's
-- operating-target hours: a fingerprint per run name. It changes with an event that arrives late and with
-- an attribution that another run's window made ambiguous. An event's id is the hash of its content, so the
-- ids (with how each was attributed) stand for the rows; xor-ing their hashes is order-free and cheap over
-- millions of events, where rows_digest would sort every row as text.
select
    a.run_name as key,
    count(*) || ':' || bit_xor(hash(a.event_id, a.attribution)) as digest
from int_axiom__event_runs as a
where a.run_name is not null
group by a.run_name
