-- sweeps: one row per sweep: winner, runner-up, margin (with its own band) and verdict (macro sweep_verdict:
-- clear_winner only when the margin is over sweep_clear_margin Elo, thresholds.yml, and the two final-gap
-- bands do not overlap; likely_winner when they overlap), the three rankings and the unstable runs, the
-- hypothesis (sweep definition, else the Axiom sweep_started event),
-- whether the expected ranking came true, and the success criteria: machine-checkable ones evaluated
-- (`<metric> < N` for kl/max, kl/mean, grad norm; `all runs finish N steps`; `winner beats runner-up by
-- more than N Elo`), the others listed as unchecked.
with summary as (
    select
        sweep_name,
        count(*) as runs,
        count(*) filter (state = 'finished') as runs_finished,
        -- unnest gives the macro's struct as its named columns (there is no one alias to give)
        unnest(run_set_summary(  -- noqa: AL03
            sweep_run_letter, run_id, run_name, rank_by_elo_gap, rank_by_base_model_elo, rank_by_reference_drop,
            final_elo_gap, final_elo_gap_ci_low, final_elo_gap_ci_high, unstable
        )),
        max(kl_max_max) as kl_max_max,
        max(kl_mean_avg) as kl_mean_avg,
        max(grad_norm_max) as grad_norm_max,
        min(steps) as min_steps,
        bool_and(state = 'finished') as all_finished
    from sweep_runs
    group by sweep_name
),

announced as (
    select
        sweep_name,
        arg_max(hypothesis, (event_time, event_id)) as hypothesis
    from stg_axiom__events
    where event = 'sweep_started' and sweep_name is not null
    group by sweep_name
),

judged as (
    select
        s.*,
        s.winner_elo_gap - s.runner_up_elo_gap as margin,
        margin_half_width(
            s.winner_elo_gap_ci_low, s.winner_elo_gap_ci_high, s.runner_up_elo_gap_ci_low, s.runner_up_elo_gap_ci_high
        ) as margin_half_width,
        coalesce(d.hypothesis, a.hypothesis) as hypothesis,
        d.expected_ranking,
        d.success_criteria
    from summary as s
    left join raw_sweeps__definitions as d using (sweep_name)
    left join announced as a using (sweep_name)
),

listed_criteria as (
    select
        sweep_name,
        unnest(success_criteria) as criterion,
        generate_subscripts(success_criteria, 1) as position
    from judged
),

criteria as (
    select
        j.sweep_name,
        c.criterion,
        c.position,
        case
            when regexp_matches(c.criterion, '^\s*kl/max\s*<\s*([0-9.]+)\s*$')
                then j.kl_max_max < cast(regexp_extract(c.criterion, '([0-9.]+)\s*$', 1) as double)
            when regexp_matches(c.criterion, '^\s*kl/mean\s*<\s*([0-9.]+)\s*$')
                then j.kl_mean_avg < cast(regexp_extract(c.criterion, '([0-9.]+)\s*$', 1) as double)
            when regexp_matches(c.criterion, '^\s*(benchmark/)?grad_norm\s*<\s*([0-9.]+)\s*$')
                then j.grad_norm_max < cast(regexp_extract(c.criterion, '([0-9.]+)\s*$', 1) as double)
            when regexp_matches(c.criterion, '^\s*all runs finish ([0-9]+) steps\s*$')
                then j.all_finished and j.min_steps >= cast(regexp_extract(c.criterion, '([0-9]+)', 1) as bigint)
            when regexp_matches(c.criterion, '^\s*winner beats runner-up by more than ([0-9.]+) Elo\s*$')
                then j.margin > cast(regexp_extract(c.criterion, '([0-9.]+) Elo', 1) as double)
        end as met
    from judged as j
    inner join listed_criteria as c using (sweep_name)
    -- a criterion written twice is judged once
    qualify row_number() over (partition by j.sweep_name, c.criterion order by c.position) = 1
),

-- In sweep.yaml's order (json_group_object is a macro that cannot be ordered; a map gives the same JSON).
criteria_by_sweep as (
    select
        sweep_name,
        to_json(map_from_entries(list((criterion, met) order by position) filter (met is not null)))
            as success_criteria_met,
        list(criterion order by position) filter (met is null) as success_criteria_unchecked
    from criteria
    group by sweep_name
)

select
    j.sweep_name,
    j.runs,
    j.runs_finished,
    j.winner_run_name,
    j.winner_elo_gap,
    j.runner_up_run_name,
    j.margin,
    sweep_verdict(j.margin, j.winner_elo_gap_ci_low, j.runner_up_elo_gap_ci_high) as verdict,
    j.hypothesis,
    case
        when j.expected_ranking is not null
            then
                list_filter(j.ranking, x -> list_contains(j.expected_ranking, x))
                = list_filter(j.expected_ranking, x -> list_contains(j.ranking, x))
    end as expected_ranking_met,
    j.ranking,
    j.expected_ranking,
    c.success_criteria_met,
    c.success_criteria_unchecked,
    j.winner_elo_gap_ci_low,
    j.winner_elo_gap_ci_high,
    j.runner_up_elo_gap,
    j.runner_up_elo_gap_ci_low,
    j.runner_up_elo_gap_ci_high,
    j.margin - j.margin_half_width as margin_ci_low,
    j.margin + j.margin_half_width as margin_ci_high,
    gap_bands_overlap(j.winner_elo_gap_ci_low, j.runner_up_elo_gap_ci_high) as bands_overlap,
    j.ranking_by_base_model_elo,
    j.ranking_by_reference_drop,
    j.unstable_runs
from judged as j
left join criteria_by_sweep as c using (sweep_name)
order by j.sweep_name
