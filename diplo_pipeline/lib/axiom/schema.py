"""The Axiom event fields the training system writes (source-data.md §2.2), as typed columns.

Only fields some emitter really writes are here (the old CLI's `level`, `message`, `duration_s` on
`rollout_complete` and `power` never existed). Anything else an event carries stays in `payload`.
"""

from __future__ import annotations

import pyarrow as pa

# Renamed so they cannot be mistaken for warehouse columns: Axiom's `_time` is the event time, and the
# sweep events' `run_id` is a sweep letter (A, B, ...), not a WandB run id.
RENAMED = {"_time": "event_time", "_sysTime": "sys_time", "run_id": "sweep_run_id"}

STR, INT, FLOAT, JSON = pa.string(), pa.int64(), pa.float64(), pa.string()
# Fields holding lists or objects: kept as JSON text in their column.
JSON_FIELDS = {"opponents", "results", "run_ids", "config", "completed_runs", "remaining_runs"}

KNOWN_FIELDS: dict[str, pa.DataType] = {
    # rollouts
    "rollout_id": STR, "warmup_phases": INT, "samples_per_group": INT, "horizon_years": INT,
    "horizon_type": STR, "trajectories_count": INT, "total_inference_calls": INT,
    "total_duration_ms": FLOAT, "duration_ms": FLOAT, "inference_calls": INT, "extraction_rate": FLOAT,
    "empty_responses": INT, "partial_responses": INT, "invalid_orders": INT, "over_extracted": INT,
    "error": STR, "phase": STR, "steps": INT, "total_inference_ms": FLOAT, "total_game_step_ms": FLOAT,
    "total_input_collection_ms": FLOAT, "total_visualization_ms": FLOAT, "avg_inference_per_step_ms": FLOAT,
    # spans
    "span_name": STR, "status": STR,
    # order extraction
    "power_name": STR, "orders_count": INT, "expected_count": INT, "raw_response_preview": STR,
    "raw_response_length": INT,
    # inference engine
    "batch_size": INT, "step_type": STR, "tokens_generated": INT, "tokens_per_second": FLOAT,
    "prefix_cache_hit_rate": FLOAT, "prefix_cache_queries": INT, "prefix_cache_hits": INT, "lora_name": STR,
    "adapter_load_time_s": FLOAT, "generation_time_s": FLOAT, "total_time_s": FLOAT,
    "input_tokens_per_second": FLOAT, "output_tokens_per_second": FLOAT, "prompt_tokens": INT,
    # prefix cache (cumulative vLLM counters)
    "batch_id": STR, "hit_rate": FLOAT, "queries": INT, "hits": INT, "prompt_tokens_total": INT,
    "prompt_tokens_cached": INT, "cache_efficiency": FLOAT, "cache_utilization": FLOAT,
    # trainer GPU
    "context": STR, "gpu_utilization": FLOAT, "memory_utilization": FLOAT, "memory_used": INT,
    "memory_total": INT,
    # evaluations
    "challenger_path": STR, "gatekeeper": STR, "game_idx": INT, "total_steps": INT,
    "avg_prompt_time_s": FLOAT, "avg_inference_time_s": FLOAT, "avg_game_time_s": FLOAT,
    "num_llm_powers": INT, "checkpoint_path": STR, "opponents": JSON, "games_per_opponent": INT,
    "timestamp": STR, "total_duration_s": FLOAT, "results": JSON, "overall_score": FLOAT,
    "benchmarks_passed": INT, "benchmarks_total": INT, "total_games": INT, "duration_s": FLOAT,
    "training_step": INT,
    # sweeps
    "sweep_name": STR, "hypothesis": STR, "run_ids": JSON, "model_id": STR, "warmup_duration_s": FLOAT,
    "sweep_run_id": STR, "config": JSON, "duration_hours": FLOAT, "final_reward": FLOAT,
    "completed_runs": JSON, "remaining_runs": JSON, "total_duration_hours": FLOAT,
    # legacy trainer events (until 2025-12-05)
    "step": INT, "loss": FLOAT, "kl": FLOAT, "grad_norm": FLOAT, "reward_mean": FLOAT,
}

SOURCE_NAMES = {column: source for source, column in RENAMED.items()}
"""The field name an emitter writes for each renamed column (`sweep_run_id` ← `run_id`)."""


def _duckdb_kind(column: str, kind: pa.DataType) -> str:
    if column in JSON_FIELDS:
        return "JSON"
    return "BIGINT" if pa.types.is_integer(kind) else "DOUBLE" if pa.types.is_floating(kind) else "VARCHAR"


# The declared type of every field we know, keyed as the emitters write it (`_time`, `run_id`), as DuckDB
# names it: what `json_transform` types them as, and what a CSV cell of that field is read back as.
SOURCE_KINDS: dict[str, str] = {
    "_time": "VARCHAR", "_sysTime": "VARCHAR", "_rowId": "VARCHAR",
    "event": "VARCHAR", "service": "VARCHAR", "run_name": "VARCHAR",
    **{SOURCE_NAMES.get(column, column): _duckdb_kind(column, kind) for column, kind in KNOWN_FIELDS.items()},
}

EVENTS_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),  # content hash: the same event in two exports has the same id
        ("event_time", pa.timestamp("us", tz="UTC")),
        ("time_raw", pa.string()),  # `_time` exactly as Axiom wrote it (nanoseconds survive here)
        ("day", pa.string()),
        ("event", pa.string()),
        ("service", pa.string()),
        ("run_name", pa.string()),
        *[(name, kind) for name, kind in KNOWN_FIELDS.items()],
        ("payload", pa.string()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
    ]
)
