-- `diplo sweep NAME`: the sweep's verdict (sweeps).
select *
from sweeps
where sweep_name = $sweep_name
