-- The guides' operating targets (WAREHOUSE.md, Diagnosis; source-data.md §3.6), shared by the health_hourly
-- mart (per hour), `diplo health` (per hour, and per hour of a run's attributed events with --run) and the
-- reports (nightly digest, run report). Every number is a limit of thresholds.yml (limit_<name>()).

-- A rollout_complete event that gives both halves of the throughput (trajectories and wall time).
create or replace macro is_throughput_sample(e) as (
    e.event = 'rollout_complete' and e.trajectories_count is not null and e.total_duration_ms > 0
);

-- A parser response that needed orders (int_axiom__order_responses' kinds other than no_orders_needed).
create or replace macro needed_orders(e) as (
    e.power_name is not null and (
        e.event in ('orders_partial', 'orders_empty')
        or (e.event = 'orders_extracted' and coalesce(e.expected_count, 0) > 0)
    )
);

-- The health and operating-target measures of a group of events (one hour of health_hourly, or one hour of
-- a run's attributed events for `diplo health --run` and the run report), as one struct: `unnest(...)` in
-- the select list gives the columns below; the grouping is the caller's. `e` is the event row itself (an
-- axiom_events / stg_axiom__events row: twelve of its fields are read). Float averages add the events in
-- event_id order, so every build gets the same last digits.
--   trajectories_per_hour  the guide's throughput, (3600 / mean rollout wall time) x trajectories per
--                          rollout = 3600 x trajectories / rollout seconds, over the rollout_complete events
--                          that carry both (it does not depend on how much of the hour was active); the
--                          milliseconds are summed as logged (whole numbers: exact in any order)
--   order_responses        parser responses that needed orders (orders_extracted with expected > 0,
--                          orders_partial, orders_empty): the denominator of empty_share and partial_share
create or replace macro hour_health(e) as {
    'events': count(*),
    'error_events': count(*) filter (where is_error_event(e.event, e.status)),
    'rollouts_started': count(*) filter (where e.event = 'rollout_start'),
    'rollouts_completed': count(*) filter (where e.event = 'rollout_complete'),
    'rollouts_failed': count(*) filter (where e.event = 'rollout_error'),
    'avg_inference_ms': avg(e.duration_ms order by e.event_id) filter (where e.event = 'inference_response'),
    'trajectories': sum(e.trajectories_count) filter (where e.event = 'rollout_complete'),
    'trajectories_per_rollout': avg(e.trajectories_count) filter (where e.event = 'rollout_complete'),
    'trajectories_per_hour': (
        3600000.0 * sum(e.trajectories_count) filter (where is_throughput_sample(e))
        / nullif(sum(e.total_duration_ms) filter (where is_throughput_sample(e)), 0)
    ),
    'inference_calls': count(*) filter (where e.event = 'inference_timing_breakdown'),
    'avg_batch_size': avg(e.batch_size) filter (where e.event = 'inference_timing_breakdown'),
    'avg_output_tps': avg(e.output_tokens_per_second order by e.event_id) filter (
        where e.event = 'inference_timing_breakdown'
    ),
    'avg_input_tps': avg(e.input_tokens_per_second order by e.event_id) filter (
        where e.event = 'inference_timing_breakdown'
    ),
    'order_responses': count(*) filter (where needed_orders(e)),
    'empty_responses': count(*) filter (where needed_orders(e) and e.event = 'orders_empty'),
    'partial_responses': count(*) filter (where needed_orders(e) and e.event = 'orders_partial')
};

-- The trailing window of an alert rule's event (rollout_error, orders_empty), as an interval: an event counts
-- the events of its kind from this long before it up to itself. The lengths are limits.
create or replace macro alert_window(event) as (
    to_minutes(cast(
        case event
            when 'rollout_error' then limit_rollout_error_alert_window_minutes()
            when 'orders_empty' then limit_empty_orders_alert_window_minutes()
        end as bigint
    ))
);

-- The guides' operating targets an hour missed, by name (`h` is a row with health_hourly's columns); an
-- hour that measured nothing for a target (no completed rollout, no engine call, no order response) does
-- not miss it. The list, in this order: trajectories_per_hour, trajectories_per_rollout, output_tps,
-- input_tps, batch_size, empty_responses, partial_responses, rollout_error_alert, empty_orders_alert.
create or replace macro operating_targets_missed(h) as (
    list_filter([
        case when h.trajectories_per_hour < limit_trajectories_per_hour_min() then 'trajectories_per_hour' end,
        case
            when h.trajectories_per_rollout < limit_trajectories_per_rollout_min() then 'trajectories_per_rollout'
        end,
        case when h.avg_output_tps < limit_output_tps_min() then 'output_tps' end,
        case when h.avg_input_tps < limit_input_tps_min() then 'input_tps' end,
        case when h.avg_batch_size < limit_batch_size_min() then 'batch_size' end,
        case when h.empty_share >= limit_empty_share_max() then 'empty_responses' end,
        case when h.partial_share >= limit_partial_share_max() then 'partial_responses' end,
        case when h.peak_rollout_errors_1h > limit_rollout_error_alert_count() then 'rollout_error_alert' end,
        case when h.peak_empty_orders_15m > limit_empty_orders_alert_count() then 'empty_orders_alert' end
    ], missed -> missed is not null)
);

-- The operating targets themselves, one struct each (`select unnest(operating_targets(), recursive := true)`
-- gives the rows): the target's name as operating_targets_missed spells it, the health_hourly column that
-- measures it, whether it is met `at_least` or `below` the limit (`at_most` for an alert's count), and the
-- limit. The reports and `diplo health` summarise the hours with it.
create or replace macro operating_targets() as [
    {
        'target': 'trajectories_per_hour', 'measure': 'trajectories_per_hour', 'direction': 'at_least',
        'limit_value': limit_trajectories_per_hour_min()
    },
    {
        'target': 'trajectories_per_rollout', 'measure': 'trajectories_per_rollout', 'direction': 'at_least',
        'limit_value': limit_trajectories_per_rollout_min()
    },
    {
        'target': 'output_tps', 'measure': 'avg_output_tps', 'direction': 'at_least',
        'limit_value': limit_output_tps_min()
    },
    {
        'target': 'input_tps', 'measure': 'avg_input_tps', 'direction': 'at_least',
        'limit_value': limit_input_tps_min()
    },
    {
        'target': 'batch_size', 'measure': 'avg_batch_size', 'direction': 'at_least',
        'limit_value': limit_batch_size_min()
    },
    {
        'target': 'empty_responses', 'measure': 'empty_share', 'direction': 'below',
        'limit_value': limit_empty_share_max()
    },
    {
        'target': 'partial_responses', 'measure': 'partial_share', 'direction': 'below',
        'limit_value': limit_partial_share_max()
    },
    {
        'target': 'rollout_error_alert', 'measure': 'peak_rollout_errors_1h', 'direction': 'at_most',
        'limit_value': limit_rollout_error_alert_count()
    },
    {
        'target': 'empty_orders_alert', 'measure': 'peak_empty_orders_15m', 'direction': 'at_most',
        'limit_value': limit_empty_orders_alert_count()
    }
];
