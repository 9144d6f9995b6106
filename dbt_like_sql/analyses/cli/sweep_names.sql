-- Every sweep's name: what `diplo sweep NAME` accepts.
select sweep_name
from sweeps
order by sweep_name
