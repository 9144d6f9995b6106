-- Findings (the findings mart), as the reports list them.

-- Worst first: error, then warn, then anything else (info).
create or replace macro severity_rank(severity) as (
    case severity when 'error' then 0 when 'warn' then 1 else 2 end
);
