-- Power-law fits of a tag or a sweep that carry a flag (few points, narrow range, an exponent interval that
-- includes zero, ...): their exponent should not be quoted without the caveat.
select
    scope,
    scope_id,
    exponent,
    exponent_ci_low,
    exponent_ci_high,
    r2,
    n_points,
    n_runs,
    x_decades,
    flags
from power_law_fits
where model = 'power_law' and scope in ('tag', 'sweep') and len(flags) > 0
order by scope, scope_id
