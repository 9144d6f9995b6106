-- One run's sampled rollouts (Axiom) per hour they started in, by final status.
select
    date_trunc('hour', started_at) as hour,
    status,
    count(*) as rollouts
from rollouts
where run_name = $run_name
group by all
order by hour, status
