-- Metric pairs for power-law fits, shared by the power_law_fits mart (its points,
-- analyses/analytics/power_law_points.sql) and the reports' fit charts (analyses/reports/fit_points.sql).

-- One (x, y) pair per (run, step): x_metric and y_metric from the same training row, the later write
-- of a re-logged step winning, for the runs in run_ids (NULL: every run; the filter sits before the
-- grouping, so a report asking for a few runs does not pair them all). A table:
-- `from metric_pairs('metric_points', 'x key', 'y key', NULL)`; the table is named by its caller because
-- DuckDB binds a table macro's tables when the macro is created, and macros are created before the views.
create or replace macro metric_pairs(points_table, x_metric, y_metric, run_ids) as table (
    with train_rows as (
        select
            run_id,
            step,
            write_seq,
            max(value) filter (where key = x_metric) as x,
            max(value) filter (where key = y_metric) as y
        from query_table(points_table)
        where
            row_kind = 'train'
            and key in (x_metric, y_metric)
            and (run_ids is null or run_id = any(run_ids))
        group by run_id, step, write_seq
    )

    select
        run_id,
        step,
        x,
        y
    from train_rows
    where x is not null and y is not null
    qualify row_number() over (partition by run_id, step order by write_seq desc) = 1
);
