-- The runs the power_law_fits mart can group into scopes: their tags and sweep.
select
    run_id,
    coalesce(tags, []) as tags,
    sweep_name
from runs
order by run_id
