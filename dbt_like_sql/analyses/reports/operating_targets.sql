-- The guides' operating targets, one row each (macro operating_targets: target, measure, direction,
-- limit_value), for the operating-targets sections of the run report and the nightly digest.
select unnest(operating_targets(), recursive := true)
