-- The typed projection of Axiom events, run by lib/axiom/export_files.py as each export file or API fetch
-- is staged (not a model: the underscore keeps it out of the model layer). It reads the relation `lean`,
-- the events as the source said them (event_id, event_time, time_raw, payload, source_file,
-- source_line), and gives raw_axiom__events' columns: the UTC day, one typed column per field of
-- lib/axiom/schema.py's KNOWN_FIELDS (tests/unit/axiom/test_typed_projection.py holds the two to the same
-- names and types), the run the event names, and the lean columns.
--
-- The structure below lists every known field as the emitters write it, with its type. json_transform
-- is lenient: a field holding the wrong type is NULL in its column and intact in payload. Fields holding
-- lists or objects are typed JSON and kept as JSON text.
with fields as (
    select
        *,
        -- unnest gives each field of the structure as a column of that name (there is no one alias to give)
        -- noqa: disable=AL03
        unnest(json_transform(payload, '{
            "event": "VARCHAR",
            "service": "VARCHAR",
            "run_name": "VARCHAR",
            "rollout_id": "VARCHAR",
            "warmup_phases": "BIGINT",
            "samples_per_group": "BIGINT",
            "horizon_years": "BIGINT",
            "horizon_type": "VARCHAR",
            "trajectories_count": "BIGINT",
            "total_inference_calls": "BIGINT",
            "total_duration_ms": "DOUBLE",
            "duration_ms": "DOUBLE",
            "inference_calls": "BIGINT",
            "extraction_rate": "DOUBLE",
            "empty_responses": "BIGINT",
            "partial_responses": "BIGINT",
            "invalid_orders": "BIGINT",
            "over_extracted": "BIGINT",
            "error": "VARCHAR",
            "phase": "VARCHAR",
            "steps": "BIGINT",
            "total_inference_ms": "DOUBLE",
            "total_game_step_ms": "DOUBLE",
            "total_input_collection_ms": "DOUBLE",
            "total_visualization_ms": "DOUBLE",
            "avg_inference_per_step_ms": "DOUBLE",
            "span_name": "VARCHAR",
            "status": "VARCHAR",
            "power_name": "VARCHAR",
            "orders_count": "BIGINT",
            "expected_count": "BIGINT",
            "raw_response_preview": "VARCHAR",
            "raw_response_length": "BIGINT",
            "batch_size": "BIGINT",
            "step_type": "VARCHAR",
            "tokens_generated": "BIGINT",
            "tokens_per_second": "DOUBLE",
            "prefix_cache_hit_rate": "DOUBLE",
            "prefix_cache_queries": "BIGINT",
            "prefix_cache_hits": "BIGINT",
            "lora_name": "VARCHAR",
            "adapter_load_time_s": "DOUBLE",
            "generation_time_s": "DOUBLE",
            "total_time_s": "DOUBLE",
            "input_tokens_per_second": "DOUBLE",
            "output_tokens_per_second": "DOUBLE",
            "prompt_tokens": "BIGINT",
            "batch_id": "VARCHAR",
            "hit_rate": "DOUBLE",
            "queries": "BIGINT",
            "hits": "BIGINT",
            "prompt_tokens_total": "BIGINT",
            "prompt_tokens_cached": "BIGINT",
            "cache_efficiency": "DOUBLE",
            "cache_utilization": "DOUBLE",
            "context": "VARCHAR",
            "gpu_utilization": "DOUBLE",
            "memory_utilization": "DOUBLE",
            "memory_used": "BIGINT",
            "memory_total": "BIGINT",
            "challenger_path": "VARCHAR",
            "gatekeeper": "VARCHAR",
            "game_idx": "BIGINT",
            "total_steps": "BIGINT",
            "avg_prompt_time_s": "DOUBLE",
            "avg_inference_time_s": "DOUBLE",
            "avg_game_time_s": "DOUBLE",
            "num_llm_powers": "BIGINT",
            "checkpoint_path": "VARCHAR",
            "opponents": "JSON",
            "games_per_opponent": "BIGINT",
            "timestamp": "VARCHAR",
            "total_duration_s": "DOUBLE",
            "results": "JSON",
            "overall_score": "DOUBLE",
            "benchmarks_passed": "BIGINT",
            "benchmarks_total": "BIGINT",
            "total_games": "BIGINT",
            "duration_s": "DOUBLE",
            "training_step": "BIGINT",
            "sweep_name": "VARCHAR",
            "hypothesis": "VARCHAR",
            "run_ids": "JSON",
            "model_id": "VARCHAR",
            "warmup_duration_s": "DOUBLE",
            "run_id": "VARCHAR",
            "config": "JSON",
            "duration_hours": "DOUBLE",
            "final_reward": "DOUBLE",
            "completed_runs": "JSON",
            "remaining_runs": "JSON",
            "total_duration_hours": "DOUBLE",
            "step": "BIGINT",
            "loss": "DOUBLE",
            "kl": "DOUBLE",
            "grad_norm": "DOUBLE",
            "reward_mean": "DOUBLE"
        }'))
    -- noqa: enable=AL03
    from lean
),

-- The sweep events' `run_id` is a sweep letter (A, B, ...), not a WandB run id.
renamed as (
    select * rename (run_id as sweep_run_id)
    from fields
)

select
    event_id,
    event_time,
    time_raw,
    strftime(timezone('UTC', event_time), '%Y-%m-%d') as day,
    event,
    service,
    -- The run the event names: its own run_name (sweep events), gpu_stats' context `<kind>:<run>`, or the
    -- run folder of an evaluated adapter (`.../<run>/adapter_v<N>`).
    coalesce(
        nullif(run_name, ''),
        nullif(split_part(context, ':', 2), ''),
        nullif(regexp_extract(coalesce(challenger_path, checkpoint_path), '([^/]+)/adapter_v[0-9]+', 1), '')
    ) as run_name,
    * exclude (event_id, event_time, time_raw, event, service, run_name, payload, source_file, source_line)
    replace (
        completed_runs::varchar as completed_runs,
        config::varchar as config,
        opponents::varchar as opponents,
        remaining_runs::varchar as remaining_runs,
        results::varchar as results,
        run_ids::varchar as run_ids
    ),
    payload,
    source_file,
    source_line
from renamed
