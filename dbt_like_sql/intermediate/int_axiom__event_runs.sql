-- materialized: view
-- int_axiom__event_runs: the training run every Axiom event belongs to, for the per-run answers (`diplo
-- errors|rollout-timing|extraction-stats|health|inference-stats|cache-stats|events --run`, the run report).
-- In order of authority:
--   named        the event names its run (run_name: sweep events, gpu_stats.context, checkpoint paths)
--   rollout      the event belongs to a rollout of the rollouts mart, which attributes the whole rollout by
--                the run window holding its start (ambiguous or none there: no run here either)
--   time_window  any other event (the inference engine's calls, prefix-cache samples, trainer spans) by the
--                training run whose window (int_wandb__run_windows) alone holds its time
-- Overlapping windows make an event `ambiguous` (run_name NULL), never a guess; `none` is outside every window.
with located as (
    select
        e.event_id,
        e.event_time,
        e.event,
        e.run_name as named_run,
        r.rollout_id is not null as of_rollout,
        r.run_name as rollout_run,
        r.attribution as rollout_attribution
    from axiom_events as e
    left join rollouts as r on e.rollout_id = r.rollout_id
),

by_window as (
    select
        l.event_id,
        count(w.run_name) as matching_runs,
        min(w.run_name) as window_run
    from located as l
    left join int_wandb__run_windows as w
        on l.event_time between w.window_start and w.window_end
    where l.named_run is null and not l.of_rollout
    group by l.event_id
)

select
    l.event_id,
    l.event_time,
    l.event,
    case
        when l.named_run is not null then l.named_run
        when l.of_rollout then l.rollout_run
        when w.matching_runs = 1 then w.window_run
    end as run_name,
    case
        when l.named_run is not null then 'named'
        when l.of_rollout and l.rollout_attribution = 'unique' then 'rollout'
        when l.of_rollout then l.rollout_attribution
        when w.matching_runs = 1 then 'time_window'
        when w.matching_runs > 1 then 'ambiguous'
        else 'none'
    end as attribution
from located as l
left join by_window as w using (event_id)
