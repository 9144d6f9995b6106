-- Every sweep, by name.
select * from sweeps
order by sweep_name
