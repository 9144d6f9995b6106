-- A rollout cannot take negative time, nor complete before it started.
select
    rollout_id,
    started_at,
    completed_at,
    duration_s
from rollouts
where duration_s < 0 or completed_at < started_at
