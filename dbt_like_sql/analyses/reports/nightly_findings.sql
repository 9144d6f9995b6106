-- The nightly digest's new findings: those whose episode began in the window (when its first step was
-- logged), worst first.
select
    f.*,
    coalesce(s.timestamp, r.last_timestamp) as seen_at
from findings as f
inner join runs as r using (run_id)
left join run_steps as s on f.run_id = s.run_id and f.step_start = s.step
where
    coalesce(s.timestamp, r.last_timestamp) > $window_start
    and coalesce(s.timestamp, r.last_timestamp) <= $window_end
order by severity_rank(f.severity), seen_at, f.run_name, f.rule
