-- `diplo export RUN --output FILE.parquet`: the view exported_points (cli/run_points.sql for the run) to
-- $path, with the run, its config and its summary as JSON text in the file's key-value metadata (read
-- them with `parquet_kv_metadata(path)`). Returns the number of points written.
copy exported_points to $path (
    format parquet,
    compression zstd,
    kv_metadata {run: $run, config: $config, summary: $summary}
)
