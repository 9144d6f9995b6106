-- evaluations: every evaluation of a checkpoint, from the three places they are logged:
--   benchmark_suite: `benchmark/vs_<name>_{winrate,avg_score,passed}` rows of the training run, keyed by
--                    `benchmark/evaluation_step` (plus the suite's `benchmark/overall_score`, opponent 'overall');
--   standalone:      `eval/vs_<opponent>/{win_rate,survival_rate,avg_centers}` of evaluation runs, linked to
--                    the training run by their config's checkpoint_path;
--   league:          `elo/vs_<type>_win_rate` rows keyed by `elo/evaluation_step`.
-- A standalone run's logged W&B Tables (run_tables) are used where they exist: `eval/summary_table` (one row per
-- opponent, the last table the run logged) replaces the scalar `eval/vs_<opponent>/*` rows of the opponents it
-- has (the same evaluation, with its games), and `eval/results_table` adds a row per (checkpoint, opponent).
-- An evaluation logged in more than one of them counts once: summary table, then results table, then scalars.
-- floor: each benchmark's pass floor (source-data.md §3.6; benchmark_floor_<opponent> in thresholds.yml).
with eval_points as (
    select
        p.run_id,
        p.step,
        p.key,
        p.value,
        r.run_name,
        r.run_kind,
        r.config
    from stg_wandb__metric_points as p
    inner join stg_wandb__runs as r using (run_id)
    where
        (p.key like 'benchmark/%' or p.key like 'eval/vs\_%' escape '\' or p.key like 'elo/vs\_%' escape '\')
        and p.row_kind <> 'train'
    qualify p.write_seq = max(p.write_seq) over (partition by p.run_id, p.step, p.key)
),

floors (opponent, floor) as (
    values
    ('random_bot', limit_benchmark_floor_random_bot()),
    ('chaos_bot', limit_benchmark_floor_chaos_bot()),
    ('defensive_bot', limit_benchmark_floor_defensive_bot()),
    ('territorial_bot', limit_benchmark_floor_territorial_bot()),
    ('coordinated_bot', limit_benchmark_floor_coordinated_bot()),
    ('frozen_v10', limit_benchmark_floor_frozen_v10()),
    ('frozen_v50', limit_benchmark_floor_frozen_v50()),
    ('frozen_v150', limit_benchmark_floor_frozen_v150())
),

suite_sizes as (
    select
        run_id,
        step,
        max(value) filter (key = 'benchmark/games_played') as games_played,
        max(value) filter (key = 'benchmark/benchmarks_total') as benchmarks_total,
        max(value) filter (key = 'benchmark/overall_score') as overall_score,
        max(value) filter (key = 'benchmark/benchmarks_passed') as benchmarks_passed
    from eval_points
    where
        key in (
            'benchmark/games_played', 'benchmark/benchmarks_total', 'benchmark/overall_score',
            'benchmark/benchmarks_passed'
        )
    group by run_id, step
),

suite as (
    select
        run_id,
        min(run_name) as source_run_name,  -- one run per group
        step as evaluation_step,
        regexp_extract(key, '^benchmark/vs_(.+)_(winrate|avg_score|passed)$', 1) as opponent,
        max(value) filter (key like '%\_winrate' escape '\') as win_rate,
        max(value) filter (key like '%\_avg\_score' escape '\') as avg_score,
        max(value) filter (key like '%\_passed' escape '\') as passed
    from eval_points
    where regexp_matches(key, '^benchmark/vs_(.+)_(winrate|avg_score|passed)$')
    group by run_id, step, opponent
),

suite_rows as (
    select
        s.run_id,
        s.source_run_name,
        s.source_run_name || '/adapter_v' || s.evaluation_step as checkpoint,
        s.evaluation_step as checkpoint_step,
        s.evaluation_step,
        'benchmark_suite' as kind,
        s.opponent,
        round(z.games_played / nullif(z.benchmarks_total, 0))::bigint as games,
        s.win_rate,
        null::double as survival_rate,
        null::double as avg_centers,
        s.avg_score,
        f.floor,
        s.passed = 1 as passed
    from suite as s
    left join suite_sizes as z on s.run_id = z.run_id and s.evaluation_step = z.step
    left join floors as f using (opponent)
),

overall_rows as (
    select
        z.run_id,
        r.run_name as source_run_name,
        r.run_name || '/adapter_v' || z.step as checkpoint,
        z.step as checkpoint_step,
        z.step as evaluation_step,
        'benchmark_suite' as kind,
        'overall' as opponent,
        z.games_played::bigint as games,
        null::double as win_rate,
        null::double as survival_rate,
        null::double as avg_centers,
        z.overall_score as avg_score,
        null::double as floor,
        z.benchmarks_passed = z.benchmarks_total as passed
    from suite_sizes as z
    inner join stg_wandb__runs as r using (run_id)
    where z.overall_score is not null
),

standalone as (
    select
        run_id,
        min(json_extract_string(config, '$.checkpoint_path')) as checkpoint,  -- one run's config per group
        regexp_extract(key, '^eval/vs_([^/]+)/', 1) as opponent,
        min(try_cast(json_extract(config, '$.games_per_opponent') as bigint)) as games,
        max(value) filter (key like '%/win\_rate' escape '\') as win_rate,
        max(value) filter (key like '%/survival\_rate' escape '\') as survival_rate,
        max(value) filter (key like '%/avg\_centers' escape '\') as avg_centers
    from eval_points
    where key like 'eval/vs\_%/%' escape '\'
    group by run_id, opponent
),

summary_tables as (
    select
        t.run_id,
        t.opponent,
        t.games,
        t.win_rate,
        t.survival_rate,
        t.avg_centers
    from stg_wandb__tables as t
    where t.key = 'eval/summary_table' and t.opponent is not null
    qualify row_number() over (partition by t.run_id, t.opponent order by t.step desc, t.row_index desc) = 1
),

standalone_sources as (
    select
        s.run_id,
        s.checkpoint,
        s.opponent,
        s.games,
        s.win_rate,
        s.survival_rate,
        s.avg_centers,
        'scalars' as logged_as,
        3 as priority
    from standalone as s
    union all
    select
        t.run_id,
        json_extract_string(r.config, '$.checkpoint_path') as checkpoint,
        t.opponent,
        t.games,
        t.win_rate,
        t.survival_rate,
        t.avg_centers,
        'table' as logged_as,
        1 as priority
    from summary_tables as t
    inner join stg_wandb__runs as r using (run_id)
    union all
    select
        t.run_id,
        t.checkpoint,
        t.opponent,
        t.games_played as games,
        t.win_rate,
        t.survival_rate,
        t.avg_centers,
        'table' as logged_as,
        2 as priority
    from stg_wandb__tables as t
    where t.key = 'eval/results_table' and t.opponent is not null and t.checkpoint is not null
    qualify row_number() over (
        partition by t.run_id, t.checkpoint, t.opponent order by t.step desc, t.row_index desc
    ) = 1
),

standalone_rows as (
    select
        run_id,
        regexp_extract(checkpoint, '([^/]+)/adapter_v[0-9]+', 1) as source_run_name,
        regexp_extract(checkpoint, '([^/]+/adapter_v[0-9]+)', 1) as checkpoint,
        try_cast(regexp_extract(checkpoint, 'adapter_v([0-9]+)', 1) as bigint) as checkpoint_step,
        try_cast(regexp_extract(checkpoint, 'adapter_v([0-9]+)', 1) as bigint) as evaluation_step,
        'standalone' as kind,
        opponent,
        games,
        win_rate,
        survival_rate,
        avg_centers,
        null::double as avg_score,
        null::double as floor,
        null::boolean as passed,
        logged_as
    from standalone_sources
    -- One row per evaluation: the summary table over the results table over the scalars of the same one.
    qualify row_number() over (
        partition by run_id, try_cast(regexp_extract(checkpoint, 'adapter_v([0-9]+)', 1) as bigint), opponent
        order by priority
    ) = 1
),

league_rows as (
    select
        run_id,
        min(run_name) as source_run_name,
        min(run_name) || '/adapter_v' || step as checkpoint,
        step as checkpoint_step,
        step as evaluation_step,
        'league' as kind,
        regexp_extract(key, '^elo/vs_(.+)_win_rate$', 1) as opponent,
        null::bigint as games,
        max(value) as win_rate,
        null::double as survival_rate,
        null::double as avg_centers,
        null::double as avg_score,
        null::double as floor,
        null::boolean as passed
    from eval_points
    where regexp_matches(key, '^elo/vs_(.+)_win_rate$')
    group by run_id, step, key
)

select
    *,
    'scalars' as logged_as
from suite_rows
union all by name
select
    *,
    'scalars' as logged_as
from overall_rows
union all by name
select * from standalone_rows
union all by name
select
    *,
    'scalars' as logged_as
from league_rows
order by source_run_name, evaluation_step, kind, opponent, run_id
