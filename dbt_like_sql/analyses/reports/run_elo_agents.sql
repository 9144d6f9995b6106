-- Every agent of one run's league: its own checkpoints, then the baselines and other runs' checkpoints.
select * from elo_agent_summary
where run_id = $run_id
order by agent_kind, checkpoint_step, agent
