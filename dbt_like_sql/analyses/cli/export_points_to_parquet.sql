-- `diplo export RUN --output FILE.parquet`: the view exported_points (cli/run_points.sql for the run) to
-- $path, with the run, its config, its summary, its artifacts and its logged tables as JSON text in the
-- file's key-value metadata (read them with `parquet_kv_metadata(path)`). Returns the number of points written.
-- The linter's DuckDB grammar has no struct value for a COPY option (kv_metadata {...}): the options are
-- DuckDB's, left unparsed by the linter.
copy exported_points to $path (  -- noqa: PRS
    format parquet,
    compression zstd,
    kv_metadata {
        run: $run, config: $config, summary: $summary, artifacts: $artifacts, tables: $tables
    }
)
