-- run_baselines: each training run against its baseline, the nearest-config other training run on the same
-- base model (base_model_id names the model family and its size, e.g. Qwen/Qwen2.5-7B-Instruct). Choice, in
-- order: a run tagged as a baseline (a tag `baseline` or ending in `-baseline`, as the sweeps name their A run)
-- over any untagged one (selection tagged_baseline, else nearest_config); then the fewest differing config keys
-- (identity keys aside: macro is_identity_config_key); then a run created before this one; then the nearest in
-- time; then the run id. A key differs when the values differ or only one of the two runs sets it.
-- Significance, per compared value (limits from thresholds.yml):
--   final Elo gap: the change's 95 % band, ± sqrt(h_run² + h_baseline²) from the two gaps' band half-widths
--     (independent normal estimates; not the overlap of the two bands), excludes 0; NULL without both bands;
--   final reward (mean of the last baseline_final_steps steps) and trajectories per second (mean over the run):
--     |change| > significance_z · sqrt(se_run² + se_baseline²); NULL when either has fewer than 2 steps;
--   KL max: a maximum has no standard error, so the change is significant when exactly one of the two runs is
--     above kl_max_limit (one exploded, the other did not);
--   steps to the first Elo-gap target (elo_gap_target_low): significant when exactly one run reached it and
--     the other ran at least that far without reaching it; two crossing steps carry no error estimate, so a
--     difference between two runs that both reached it is never called significant.
with training as (
    select
        run_id,
        run_name,
        created_at,
        base_model_id
    from runs
    where run_kind = 'training'
),

run_tags as (
    select
        run_id,
        unnest(tags) as tag
    from runs
),

tagged as (
    select distinct run_id
    from run_tags
    where tag = 'baseline' or tag like '%-baseline'
),

configs as (
    select
        c.run_id,
        c.key,
        case when c.value is not null then to_json(c.value) else to_json(c.value_text) end as value
    from run_config as c
    inner join training using (run_id)
    where not is_identity_config_key(c.key)
),

pairs as (
    select
        r.run_id,
        b.run_id as baseline_run_id,
        t.run_id is not null as baseline_tagged,
        b.created_at <= r.created_at as baseline_earlier,
        abs(epoch(b.created_at) - epoch(r.created_at)) as seconds_apart
    from training as r
    inner join training as b
        on r.run_id != b.run_id and r.base_model_id is not distinct from b.base_model_id
    left join tagged as t on b.run_id = t.run_id
),

-- The keys each run sets to a value (a key set to null counts as unset, as a key one run does not set).
set_keys as (
    select
        run_id,
        key,
        value::varchar as value
    from configs
    where value is not null
),

key_counts as (
    select
        run_id,
        count(*) as keys_set
    from set_keys
    group by run_id
),

-- How many keys a pair differs in: the keys either run sets (the two counts less the keys both set), less
-- those both set to the same value. One row per pair and key both set: no union of both runs' keys per pair.
shared_keys as (
    select
        p.run_id,
        p.baseline_run_id,
        count(*) as keys_shared,
        count(*) filter (where r.value = b.value) as keys_equal
    from pairs as p
    inner join set_keys as r on p.run_id = r.run_id
    inner join set_keys as b on p.baseline_run_id = b.run_id and r.key = b.key
    group by p.run_id, p.baseline_run_id
),

pair_counts as (
    select
        p.*,
        coalesce(rk.keys_set, 0) + coalesce(bk.keys_set, 0) - coalesce(s.keys_shared, 0)
        - coalesce(s.keys_equal, 0) as differing_key_count
    from pairs as p
    left join key_counts as rk on p.run_id = rk.run_id
    left join key_counts as bk on p.baseline_run_id = bk.run_id
    left join shared_keys as s on p.run_id = s.run_id and p.baseline_run_id = s.baseline_run_id
),

ranked as (
    select
        *,
        row_number() over (
            partition by run_id
            order by
                baseline_tagged desc, differing_key_count asc, baseline_earlier desc, seconds_apart asc,
                baseline_run_id asc
        ) as choice
    from pair_counts
),

chosen_pairs as (
    select *
    from ranked
    where choice = 1
),

-- Which keys the chosen pair differs in, with both values: for one pair a run, not for every pair.
chosen_keys as (
    select
        p.run_id,
        p.baseline_run_id,
        c.key
    from chosen_pairs as p
    inner join configs as c on p.run_id = c.run_id
    union
    select
        p.run_id,
        p.baseline_run_id,
        c.key
    from chosen_pairs as p
    inner join configs as c on p.baseline_run_id = c.run_id
),

differences as (
    select
        k.run_id,
        -- Keys in order (a map gives the same JSON as an object, and can be ordered).
        to_json(map_from_entries(list((k.key, [rc.value, bc.value]) order by k.key))) as differing_keys
    from chosen_keys as k
    left join configs as rc on k.run_id = rc.run_id and k.key = rc.key
    left join configs as bc on k.baseline_run_id = bc.run_id and k.key = bc.key
    where rc.value::varchar is distinct from bc.value::varchar
    group by k.run_id
),

chosen as (
    select
        p.*,
        coalesce(d.differing_keys, '{}'::json) as differing_keys
    from chosen_pairs as p
    left join differences as d using (run_id)
),

target_steps as (
    select
        run_id,
        step_reached
    from run_convergence
    where metric = 'elo_gap' and threshold = limit_elo_gap_target_low()
),

measured as (
    select
        t.run_id,
        t.run_name,
        l.final_elo_gap,
        (l.final_elo_gap_ci_high - l.final_elo_gap_ci_low) / 2 as final_elo_gap_half_band,
        m.last_step,
        m.final_reward,
        m.final_reward_se,
        m.final_reward_steps,
        m.kl_max,
        m.trajectories_per_s,
        m.trajectories_per_s_se,
        m.trajectories_per_s_steps,
        s.step_reached as steps_to_target
    from training as t
    left join run_learning as l using (run_id)
    left join int_baselines__run_metrics as m using (run_id)
    left join target_steps as s using (run_id)
),

compared as (
    select
        c.run_id,
        r.run_name,
        c.baseline_run_id,
        b.run_name as baseline_run_name,
        c.baseline_tagged,
        c.differing_key_count,
        c.differing_keys,
        convergence_target('elo_gap', limit_elo_gap_target_low()) as target,
        r.final_elo_gap,
        b.final_elo_gap as baseline_final_elo_gap,
        r.final_elo_gap - b.final_elo_gap as final_elo_gap_change,
        sqrt(r.final_elo_gap_half_band ^ 2 + b.final_elo_gap_half_band ^ 2) as final_elo_gap_change_half_band,
        r.final_reward,
        b.final_reward as baseline_final_reward,
        r.final_reward - b.final_reward as final_reward_change,
        case
            when r.final_reward_steps >= 2 and b.final_reward_steps >= 2
                then limit_significance_z() * sqrt(r.final_reward_se ^ 2 + b.final_reward_se ^ 2)
        end as final_reward_change_half_band,
        r.kl_max,
        b.kl_max as baseline_kl_max,
        r.kl_max - b.kl_max as kl_max_change,
        r.trajectories_per_s,
        b.trajectories_per_s as baseline_trajectories_per_s,
        r.trajectories_per_s - b.trajectories_per_s as trajectories_per_s_change,
        case
            when r.trajectories_per_s_steps >= 2 and b.trajectories_per_s_steps >= 2
                then limit_significance_z() * sqrt(r.trajectories_per_s_se ^ 2 + b.trajectories_per_s_se ^ 2)
        end as trajectories_per_s_change_half_band,
        r.last_step,
        b.last_step as baseline_last_step,
        r.steps_to_target,
        b.steps_to_target as baseline_steps_to_target,
        r.steps_to_target - b.steps_to_target as steps_to_target_change,
        case
            when r.steps_to_target is not null and b.steps_to_target is not null then false
            when r.steps_to_target is not null then b.last_step >= r.steps_to_target
            when b.steps_to_target is not null then r.last_step >= b.steps_to_target
            else false
        end as steps_to_target_significant
    from chosen as c
    inner join measured as r on c.run_id = r.run_id
    inner join measured as b on c.baseline_run_id = b.run_id
)

select
    run_id,
    run_name,
    baseline_run_id,
    baseline_run_name,
    differing_keys,
    differing_key_count,
    case when baseline_tagged then 'tagged_baseline' else 'nearest_config' end as selection,
    final_elo_gap,
    baseline_final_elo_gap,
    final_elo_gap_change,
    final_elo_gap_change - final_elo_gap_change_half_band as final_elo_gap_change_ci_low,
    final_elo_gap_change + final_elo_gap_change_half_band as final_elo_gap_change_ci_high,
    abs(final_elo_gap_change) > final_elo_gap_change_half_band as final_elo_gap_significant,
    final_reward,
    baseline_final_reward,
    final_reward_change,
    final_reward_change - final_reward_change_half_band as final_reward_change_ci_low,
    final_reward_change + final_reward_change_half_band as final_reward_change_ci_high,
    abs(final_reward_change) > final_reward_change_half_band as final_reward_significant,
    kl_max,
    baseline_kl_max,
    kl_max_change,
    (kl_max > limit_kl_max_limit()) != (baseline_kl_max > limit_kl_max_limit()) as kl_max_significant,
    trajectories_per_s,
    baseline_trajectories_per_s,
    trajectories_per_s_change,
    trajectories_per_s_change - trajectories_per_s_change_half_band as trajectories_per_s_change_ci_low,
    trajectories_per_s_change + trajectories_per_s_change_half_band as trajectories_per_s_change_ci_high,
    abs(trajectories_per_s_change) > trajectories_per_s_change_half_band as trajectories_per_s_significant,
    target,
    last_step,
    baseline_last_step,
    steps_to_target,
    baseline_steps_to_target,
    steps_to_target_change,
    steps_to_target_significant
from compared
order by run_id
