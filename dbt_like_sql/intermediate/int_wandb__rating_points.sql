-- int_wandb__rating_points: every per-agent rating value with its own step (sparse series are never
-- paired with another series' steps). Keys are `elo/<agent>` and `trueskill/<agent>_{mu,sigma,rating}`,
-- where <agent> is the league name with '/' replaced by '_' (source-data.md §1.6). Keys that are not
-- agents (elo/challenger, elo/win_rate, elo/games_played, elo/evaluation_step, elo/vs_*,
-- elo/rollout_updates_count, trueskill/rollout_updates_count) are left out.
with latest_writes as (
    select
        run_id,
        step,
        row_kind,
        key,
        value
    from stg_wandb__metric_points
    where (key like 'elo/%' or key like 'trueskill/%') and isfinite(value)
    qualify write_seq = max(write_seq) over (partition by run_id, row_kind, step, key)
),

measured as (
    select
        run_id,
        step,
        row_kind,
        value,
        case when key like 'elo/%' then 'elo' else regexp_extract(key, '_(mu|sigma|rating)$', 1) end as measure,
        case
            when key like 'elo/%' then substr(key, 5)
            else regexp_extract(key, '^trueskill/(.+)_(mu|sigma|rating)$', 1)
        end as safe_name
    from latest_writes
),

agents as (
    select
        m.*,
        regexp_extract(m.safe_name, '^(.+)_adapter_v([0-9]+)$', 1) as checkpoint_run,
        try_cast(regexp_extract(m.safe_name, '^(.+)_adapter_v([0-9]+)$', 2) as bigint) as checkpoint_step
    from measured as m
    where
        m.measure <> ''
        and m.safe_name not in ('challenger', 'win_rate', 'games_played', 'evaluation_step', 'rollout_updates_count')
        and not starts_with(m.safe_name, 'vs_')
)

select
    a.run_id,
    a.step,
    a.row_kind,
    a.measure,
    a.value,
    case when a.checkpoint_run <> '' then a.checkpoint_run || '/adapter_v' || a.checkpoint_step else a.safe_name end
        as agent,
    case
        when a.checkpoint_run = '' then 'baseline'
        when a.checkpoint_run = r.run_name then 'checkpoint'
        else 'foreign_checkpoint'
    end as agent_kind,
    a.checkpoint_step,
    -- Trainer rows carry the mu-based Elo; league-evaluation rows the registry's display-based one.
    case when a.row_kind = 'eval' then 'eval' else 'trainer' end as scale
from agents as a
left join stg_wandb__runs as r using (run_id)
order by a.run_id, a.step, a.row_kind, agent, a.measure
