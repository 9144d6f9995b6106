-- rollouts has one row per rollout_id.
select
    rollout_id,
    count(*) as copies
from rollouts
group by rollout_id
having count(*) > 1
