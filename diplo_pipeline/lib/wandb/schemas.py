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
