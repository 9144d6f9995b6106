-- Convergence targets and baseline matching (run_convergence, run_baselines).

-- A target's name from its metric and threshold: elo_gap_50, reward_mean_3, extraction_rate_0_95.
create or replace macro convergence_target(metric, threshold) as (
    metric || '_' || replace(printf('%g', threshold), '.', '_')
);

-- Config keys that name or locate a run rather than configure it (lib/reports/tracker.py's IDENTITY_KEYS):
-- they always differ between runs and are not what an experiment changed.
create or replace macro is_identity_config_key(key) as (
    key in (
        'run_name', 'experiment_tag', 'git_branch', 'git_commit', 'wandb_project', 'profile_run_name',
        'resume_from_run', 'resume_from_step', 'league_registry_path', 'league_inherit_from'
    )
);
