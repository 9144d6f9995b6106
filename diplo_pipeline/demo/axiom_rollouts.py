"""What one sampled rollout puts into Axiom: its lifecycle events, order responses and inference calls.

The rollout worker flushes everything when the rollout ends. Its order responses (axiom_orders) and inference
calls (axiom_inference) stay records until every rollout is built, because two planted behaviours adjust them
across rollouts before they become events: ITALY's exact extraction total on one day (axiom_extraction) and
the cumulative prefix-cache counters (axiom_cache).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from diplo_pipeline.demo.axiom_inference import InferenceCall, rollout_calls
from diplo_pipeline.demo.axiom_orders import OrderResponse, order_responses
from diplo_pipeline.demo.planted_episodes import DEGRADED_HOUR
from diplo_pipeline.demo.timeline import US, Rollout

ROLLOUT_ERRORS = (
    "TimeoutError: inference call exceeded 120s after 2 retries",
    "modal.exception.RemoteError: inference container terminated (OOM)",
)


@dataclass
class SampledRollout:
    rollout: Rollout
    responses: list[OrderResponse]
    calls: list[InferenceCall]
    events: list[tuple[int, dict]] = field(default_factory=list)  # (time_us, fields) besides orders/inference
    fork_steps: int = 0
    trajectories: int = 0


def sample_rollout(rollout: Rollout, lora_kind: str, in_dip: bool, rng: random.Random) -> SampledRollout:
    """`lora_kind`: `mixed` (league era) or `base` (legacy era, no adapters and no cache stats)."""
    responses = order_responses(rollout, in_dip, rng)  # drawn before the calls: the rng's order is the data's
    sampled = SampledRollout(rollout, responses, rollout_calls(rollout, lora_kind, rng))
    sampled.fork_steps = rng.randint(12, 20)
    sampled.trajectories = rollout.samples_per_group * (rng.randint(8, 14) if lora_kind == "mixed" else 7)
    start, end = rollout.start_us, rollout.end_us
    sampled.events.append(
        (
            start,
            {
                "event": "rollout_start",
                "rollout_id": rollout.rollout_id,
                "warmup_phases": rollout.warmup_phases,
                "samples_per_group": rollout.samples_per_group,
                "horizon_years": rollout.horizon_years,
                "horizon_type": rollout.horizon_type,
            },
        )
    )
    for index, call in enumerate(sampled.calls):
        kind = "Game Step" if index == 0 and rollout.warmup_phases else "Sync Step"
        name = f"{kind} {index} Batch={call.batch_size}, Adapters={call.adapters}"
        sampled.events.append((call.end_us, _span(name, call.duration_us)))
    fork_us = int(rollout.duration_us * rng.uniform(0.8, 0.9))
    if rollout.failed:
        error = rng.choice(ROLLOUT_ERRORS)
        for retry in range(DEGRADED_HOUR.error_spans_per_failure):
            at = end - (DEGRADED_HOUR.error_spans_per_failure - retry) * 2 * US
            name = f"Sync Step {len(sampled.calls) + retry} Batch=48, Adapters=3"
            sampled.events.append((at, _span(name, 120_000 if retry else 95_000, error)))
        sampled.events.append((end - 500_000, _span("Synchronized Fork Rollout", fork_us, error)))
        failure = {"event": "rollout_error", "rollout_id": rollout.rollout_id, "error": error, "phase": ""}
        sampled.events.append((end, failure))
        return sampled
    sampled.events.append((end - 500_000, _span("Synchronized Fork Rollout", fork_us)))
    fork_ms = fork_us / 1000
    inference_ms = fork_ms * rng.uniform(0.55, 0.7)
    sampled.events.append(
        (
            end - 400_000,
            {
                "event": "fork_timing_breakdown",
                "rollout_id": rollout.rollout_id,
                "steps": sampled.fork_steps,
                "total_inference_ms": round(inference_ms, 3),
                "total_game_step_ms": round(fork_ms * rng.uniform(0.15, 0.25), 3),
                "total_input_collection_ms": round(fork_ms * rng.uniform(0.05, 0.1), 3),
                "total_visualization_ms": 0.0,
                "avg_inference_per_step_ms": round(inference_ms / sampled.fork_steps, 3),
            },
        )
    )
    sampled.events.append(
        (
            end,
            {
                "event": "rollout_complete",
                "rollout_id": rollout.rollout_id,
                "trajectories_count": sampled.trajectories,
                "total_inference_calls": rollout.warmup_phases + sampled.fork_steps,
                "total_duration_ms": rollout.duration_us // 1000,
            },
        )
    )
    return sampled


def metrics_event(sampled: SampledRollout) -> tuple[int, dict]:
    """`rollout_metrics`, logged right after `rollout_complete`; summarises the (final) order responses."""
    rollout = sampled.rollout
    expected = sum(r.expected for r in sampled.responses)
    extracted = sum(min(r.count, r.expected) for r in sampled.responses)
    return (
        rollout.end_us + 1000,
        {
            "event": "rollout_metrics",
            "rollout_id": rollout.rollout_id,
            "duration_ms": rollout.duration_us // 1000,
            "inference_calls": rollout.warmup_phases + sampled.fork_steps,
            "extraction_rate": round(extracted / expected, 6) if expected else 1.0,
            "empty_responses": sum(r.count == 0 for r in sampled.responses),
            "partial_responses": sum(0 < r.count < r.expected for r in sampled.responses),
            "invalid_orders": 0,
            "over_extracted": sum(r.count > r.expected for r in sampled.responses),
        },
    )


def _span(name: str, duration_us: int, error: str | None = None) -> dict:
    return {
        "event": "span_duration",
        "span_name": name,
        "duration_ms": duration_us // 1000,
        "status": "error" if error else "success",
        "error": error,
    }
