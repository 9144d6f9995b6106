-- The runs of every sweep, for the experiment tracker: each run's letter, state and final Elo gap with its band
-- (run_learning's).
select
    s.sweep_name,
    s.sweep_run_letter,
    s.run_id,
    s.run_name,
    s.state,
    s.steps,
    s.final_elo_gap,
    l.final_elo_gap_ci_low,
    l.final_elo_gap_ci_high,
    s.rank_by_elo_gap,
    s.unstable
from sweep_runs as s
left join run_learning as l using (run_id)
order by s.sweep_name, s.sweep_run_letter, s.run_name
