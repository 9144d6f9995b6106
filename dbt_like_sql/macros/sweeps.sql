-- The judgement rules on Elo gaps and sweeps, shared by run_learning, sweep_runs, sweeps and `diplo sweep`
-- (a named sweep or `--runs A B C`), so a page and the CLI never judge the same numbers two ways (README
-- "Verdicts and their uncertainty").

-- A gap is significant when its 95 % band excludes 0 (either side); no band (no sigma logged), or half of
-- one, never is.
create or replace macro gap_band_excludes_zero(ci_low, ci_high) as (
    coalesce(ci_low is not null and ci_high is not null and (ci_low > 0 or ci_high < 0), false)
);

-- The winner's and the runner-up's final-gap bands overlap; unknown (NULL) when either band is missing.
create or replace macro gap_bands_overlap(winner_ci_low, runner_up_ci_high) as (
    winner_ci_low <= runner_up_ci_high
);

-- analyze_sweep's margin rule, made to respect the bands: clear_winner when the winner beats the runner-up
-- by more than sweep_clear_margin Elo and their bands do not overlap; likely_winner when the margin is
-- over the limit but the bands overlap or are unknown; close_race otherwise; NULL without a runner-up.
create or replace macro sweep_verdict(margin, winner_ci_low, runner_up_ci_high) as (
    case
        when margin > limit_sweep_clear_margin() and not gap_bands_overlap(winner_ci_low, runner_up_ci_high)
            then 'clear_winner'
        when margin > limit_sweep_clear_margin() then 'likely_winner'
        when margin is not null then 'close_race'
    end
);

-- The margin's own 95 % band: the two runs' leagues are independent, so the margin's half-width is the
-- root sum of squares of the two gaps' half-widths (methods.md §3.2: a difference gets its own interval,
-- never one built by subtracting endpoints). Returns the half-width; NULL where a band is missing.
create or replace macro margin_half_width(winner_ci_low, winner_ci_high, runner_up_ci_low, runner_up_ci_high) as (
    sqrt(((winner_ci_high - winner_ci_low) / 2) ** 2 + ((runner_up_ci_high - runner_up_ci_low) / 2) ** 2)
);

-- Config keys that name the run itself: they always differ between runs and are not what a sweep varied.
create or replace macro is_run_identity_key(key) as (
    key in (
        'run_name', 'experiment_tag', 'git_branch', 'git_commit', 'league_registry_path', 'profile_run_name',
        'resume_from_run'
    )
);

-- A config value as JSON, numbers and strings alike, so values compare across runs.
create or replace macro config_value_json(value, value_text) as (
    case when value is not null then to_json(value) else to_json(value_text) end
);

-- A set of runs side by side (a sweep, or `diplo sweep --runs`), as one struct of aggregates over rows of
-- int_sweeps__run_stats ranked by rank_by_elo_gap (`unnest(...)` in the select list gives the columns; the
-- grouping is the caller's). label is what the ranking lists name each run by (its letter in a sweep).
-- Runs tied for a place: the first by label, then run id.
create or replace macro run_set_summary(
    label, run_id, run_name, rank_by_elo_gap, rank_by_base_model_elo, rank_by_reference_drop,
    final_elo_gap, final_elo_gap_ci_low, final_elo_gap_ci_high, unstable
) as {
    'winner_run_name': arg_min(run_name, (label, run_id)) filter (rank_by_elo_gap = 1 and final_elo_gap is not null),
    'winner_elo_gap': max(final_elo_gap) filter (rank_by_elo_gap = 1),
    'winner_elo_gap_ci_low': arg_min_null(final_elo_gap_ci_low, (label, run_id)) filter (rank_by_elo_gap = 1),
    'winner_elo_gap_ci_high': arg_min_null(final_elo_gap_ci_high, (label, run_id)) filter (rank_by_elo_gap = 1),
    'runner_up_run_name': arg_min(run_name, (label, run_id)) filter (rank_by_elo_gap = 2),
    'runner_up_elo_gap': max(final_elo_gap) filter (rank_by_elo_gap = 2),
    'runner_up_elo_gap_ci_low': arg_min_null(final_elo_gap_ci_low, (label, run_id)) filter (rank_by_elo_gap = 2),
    'runner_up_elo_gap_ci_high': arg_min_null(final_elo_gap_ci_high, (label, run_id)) filter (rank_by_elo_gap = 2),
    'ranking': list(label order by rank_by_elo_gap, label, run_id),
    'ranking_by_base_model_elo': list(label order by rank_by_base_model_elo, label, run_id),
    'ranking_by_reference_drop': list(label order by rank_by_reference_drop, label, run_id),
    'unstable_runs': coalesce(list(label order by label, run_id) filter (unstable), [])
};
