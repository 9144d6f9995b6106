-- `diplo events`: raw Axiom events in the window ($start, $end, $end_inclusive), newest first, at most
-- $limit (`matching` counts them all), as axiom_cli's `list` showed them: the time, the event, its run
-- (int_axiom__event_runs: named, by its rollout, or by the one run window holding it) and its key fields:
-- the payload without the fields every event has. $wanted_event (NULL: any) keeps one event name, $run_name
-- (NULL: every run) one run's events.
select
    e.event_time,
    e.event,
    a.run_name,
    a.attribution,
    e.rollout_id,
    cast(json_merge_patch(
        e.payload,
        '{"_time": null, "_sysTime": null, "event": null, "service": null, "rollout_id": null, "run_name": null}'
    ) as varchar) as key_fields,
    count(*) over () as matching
from axiom_events as e
left join int_axiom__event_runs as a using (event_id)
-- $wanted_event is a parameter, not a column (the noqa below)
where
    in_window(e.event_time, $start, $end, $end_inclusive)
    and ($wanted_event is null or e.event = $wanted_event)  -- noqa: RF02
    and ($run_name is null or a.run_name = $run_name)
order by e.event_time desc, e.event asc, e.event_id asc
limit $limit
