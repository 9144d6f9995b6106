-- The time windows of the `diplo` pipeline questions (rollout-timing, errors, health, ...): from
-- window_start up to window_end, which is included when end_inclusive (a window that ends at the latest
-- event must hold that event) and excluded otherwise (`--until`, so consecutive windows never overlap).

-- A moment before the window's end.
create or replace macro before_window_end(moment, window_end, end_inclusive) as (
    moment < window_end or (end_inclusive and moment = window_end)
);

-- A moment inside the window.
create or replace macro in_window(moment, window_start, window_end, end_inclusive) as (
    moment >= window_start and before_window_end(moment, window_end, end_inclusive)
);

-- An hourly row (`hour` is its start) that overlaps the window: hourly marts cannot be cut inside an hour.
create or replace macro hour_in_window(hour, window_start, window_end, end_inclusive) as (
    hour + interval 1 hour > window_start and before_window_end(hour, window_end, end_inclusive)
);
