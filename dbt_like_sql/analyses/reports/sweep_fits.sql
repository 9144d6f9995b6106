-- The power-law fits of one sweep's runs together.
select * from power_law_fits
where scope = 'sweep' and scope_id = $sweep_name
order by scope, scope_id, model
