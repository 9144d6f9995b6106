"""Column types of the raw WandB tables in the lake.

Kept apart from the reader so that code which only needs the shapes (the catalog, the CLI) does not pay
for importing the WandB SDK.
"""

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
METRIC_POINTS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("step", pa.int64()),
        ("wandb_step", pa.int64()),
        ("timestamp", TS),
        ("runtime_s", pa.float64()),
        ("key", pa.string()),
        ("value", pa.float64()),
        ("value_text", pa.string()),
        ("row_kind", pa.string()),  # train | eval | final | other
        ("write_seq", pa.int64()),  # order of the row across all files of the run; later wins
        ("segment", pa.int16()),  # which file of the run (0 = first by start time)
    ]
)
KV_SCHEMA = pa.schema(
    [("run_id", pa.string()), ("key", pa.string()), ("value", pa.float64()), ("value_text", pa.string())]
)
RUNS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("run_name", pa.string()),
        ("project", pa.string()),
        ("entity", pa.string()),
        ("state", pa.string()),
        ("created_at", TS),
        ("finished_at", TS),
        ("last_timestamp", TS),
        ("runtime_s", pa.float64()),
        ("tags", pa.list_(pa.string())),
        ("run_kind", pa.string()),
        ("sweep_name", pa.string()),
        ("sweep_run_letter", pa.string()),
        ("base_model_id", pa.string()),
        ("lora_rank", pa.int64()),
        ("learning_rate", pa.float64()),
        ("kl_beta", pa.float64()),
        ("loss_type", pa.string()),
        ("total_steps", pa.int64()),
        ("num_groups_per_step", pa.int64()),
        ("samples_per_group", pa.int64()),
        ("rollout_horizon_years", pa.int64()),
        ("last_step", pa.int64()),
        ("steps_logged", pa.int64()),
        ("config", pa.string()),
        ("summary", pa.string()),
        ("source", pa.string()),
        ("source_path", pa.string()),
        ("source_files", pa.list_(pa.string())),
        ("group_name", pa.string()),
        ("job_type", pa.string()),
        ("notes", pa.string()),
        ("exit_code", pa.int64()),
        ("resumed", pa.bool_()),
        ("history_rows", pa.int64()),
        ("tail_status", pa.string()),
        ("corrupt_records", pa.int64()),
        ("writer_version", pa.string()),
        ("metric_definitions", pa.string()),
        ("ingested_at", TS),
    ]
)
# One row per artifact a run logged or used (WAREHOUSE.md "Artifacts and logged tables").
ARTIFACTS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("direction", pa.string()),  # logged | used
        ("name", pa.string()),  # the collection name, e.g. eval-replays-adapter_v50
        ("type", pa.string()),
        ("version", pa.string()),  # v0, v1, … (assigned by the server: NULL in an offline file)
        ("digest", pa.string()),
        ("aliases", pa.list_(pa.string())),
        ("size_bytes", pa.int64()),
        ("file_count", pa.int64()),
        ("files", pa.list_(pa.string())),
        ("file_local_paths", pa.list_(pa.string())),  # aligned with files; NULL where no copy is on disk
        ("local_path", pa.string()),
        ("metadata", pa.string()),
        ("created_at", TS),
        ("source", pa.string()),  # offline | api
    ]
)
# The column types of the W&B Tables the trainer logs (source-data.md §1.9); any other column is in `row`.
TABLE_COLUMNS = {
    "checkpoint": pa.string(),
    "opponent": pa.string(),
    "games": pa.int64(),
    "games_played": pa.int64(),
    "win_rate": pa.float64(),
    "survival_rate": pa.float64(),
    "avg_centers": pa.float64(),
}
TABLES_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("key", pa.string()),
        ("step", pa.int64()),
        ("wandb_step", pa.int64()),
        ("row_index", pa.int64()),
        *TABLE_COLUMNS.items(),
        ("row", pa.string()),  # the whole row as a JSON object, column name → value
        ("table_path", pa.string()),  # the table's file in the run (media/table/…)
        ("segment", pa.int16()),
    ]
)
# Every media file a run logged (tables, HTML replays, images): its reference and where it is on disk.
MEDIA_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("key", pa.string()),
        ("step", pa.int64()),
        ("wandb_step", pa.int64()),
        ("media_type", pa.string()),  # table-file, html-file, image-file, …
        ("path", pa.string()),  # relative to the run's files/ folder
        ("sha256", pa.string()),
        ("size_bytes", pa.int64()),
        ("local_path", pa.string()),  # NULL when the file is not on this machine
        ("segment", pa.int16()),
    ]
)
