-- The guides' operating targets, one row each (macro operating_targets: target, measure, direction,
-- limit_value), for summing up the hours of `diplo health`.
select unnest(operating_targets(), recursive := true)
