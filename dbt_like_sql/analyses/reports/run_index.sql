-- The run pages' index in the Dagster UI, newest first: each run's state and learning signal (one row a run).
select
    r.run_id,
    r.run_name,
    r.state,
    l.learning_signal,
    l.learning_signal_significant,
    l.final_elo_gap,
    l.final_elo_gap_ci_low,
    l.final_elo_gap_ci_high
from runs as r
left join run_learning as l using (run_id)
order by r.created_at desc, r.run_id desc
