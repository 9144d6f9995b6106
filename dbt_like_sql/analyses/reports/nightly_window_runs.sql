-- The runs the nightly digest can show: running, or with any moment (start, end, last data) after the
-- window's start. Every row of the digest's run and finding queries belongs to one of these, so those queries
-- read these runs' rows alone.
select run_id from runs
where
    state = 'running'
    or greatest(created_at, finished_at, last_timestamp) > $window_start
order by run_id
