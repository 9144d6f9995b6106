-- The experiment tracker's sweeps: every sweep definition (with or without runs yet), its hand-written notes,
-- and what the warehouse concluded about it where it has runs.
select
    d.sweep_name,
    d.description,
    d.hypothesis,
    d.created,
    d.author,
    d.primary_metric,
    d.expected_ranking,
    d.defaults,
    d.runs as variants,
    d.source_path,
    d.notes_path,
    d.notes_status,
    d.key_learnings,
    d.root_cause,
    d.follow_up,
    s.verdict,
    s.winner_run_name,
    s.winner_elo_gap,
    s.runner_up_run_name,
    s.margin,
    s.expected_ranking_met
from raw_sweeps__definitions as d
left join sweeps as s using (sweep_name)
order by d.created desc nulls last, d.sweep_name asc
