"""The one shared inference engine: its generate calls, and the events it flushes after each one.

A call stays a record until every rollout and evaluation is built, because the cumulative prefix-cache
counters (axiom_cache) are assigned across all calls in the order they end. The engine flushes after every
call, so its events arrive right after the call returns.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from diplo_pipeline.demo.simulated_system import INFERENCE_CALLS_PER_ROLLOUT
from diplo_pipeline.demo.timeline import US, Rollout

SAMPLED_MIN_BATCH = 4  # prefix_cache_stats is only logged for batches of at least 4


@dataclass
class InferenceCall:
    start_us: int
    duration_us: int
    batch_size: int
    lora_name: str | None  # mixed:N_adapters, an adapter path, or None (base-only legacy calls)
    adapters: int  # distinct non-base adapters in the batch
    prompt_tokens: int
    tokens_generated: int
    adapter_load_s: float
    generation_s: float
    has_cache_stats: bool  # vLLM exposes prefix-cache counters (the current engine)
    queries: int = 0  # cumulative counters after this call, set by axiom_cache
    hits: int = 0

    @property
    def end_us(self) -> int:
        return self.start_us + self.duration_us


def rollout_calls(rollout: Rollout, lora_kind: str, rng: random.Random) -> list[InferenceCall]:
    calls = []
    for index in range(INFERENCE_CALLS_PER_ROLLOUT):
        start = rollout.start_us + int(rollout.duration_us * (index + 0.3) / INFERENCE_CALLS_PER_ROLLOUT)
        warmup = index == 0 and rollout.warmup_phases > 0
        batch = 7 if warmup else 8 * rng.randint(3, 6)
        call = inference_call(start, batch, lora_kind, rng)
        if call.end_us >= rollout.end_us:
            break
        calls.append(call)
    return calls


def inference_call(start_us: int, batch: int, lora: str, rng: random.Random) -> InferenceCall:
    """`lora`: `mixed` (N distinct adapters), `base` (legacy engine), or an adapter path (evaluations)."""
    load = rng.uniform(1.0, 15.0) if rng.random() < 0.05 else 0.0
    generation = rng.uniform(2.0, 5.0)
    total = load + generation + rng.uniform(0.05, 0.2)
    adapters = rng.randint(0, 7) if lora == "mixed" else int(lora != "base")
    if lora == "mixed":
        lora_name: str | None = f"mixed:{adapters}_adapters"
    else:
        lora_name = None if lora == "base" else lora
    return InferenceCall(
        start_us=start_us,
        duration_us=int(total * 1000) * 1000,
        batch_size=batch,
        lora_name=lora_name,
        adapters=adapters,
        prompt_tokens=batch * rng.randint(400, 480),
        tokens_generated=batch * rng.randint(18, 30),
        adapter_load_s=round(load, 3),
        generation_s=round(generation, 3),
        has_cache_stats=lora != "base",
    )


def inference_events(call: InferenceCall, rng: random.Random) -> list[tuple[int, dict]]:
    total_s = call.duration_us / US
    tokens_per_second = round(call.tokens_generated / total_s, 3)
    hit_rate = round(call.hits / call.queries, 6) if call.has_cache_stats and call.queries else None
    engine = {"rollout_id": "inference-engine", "batch_size": call.batch_size}
    response = {
        **engine,
        "event": "inference_response",
        "duration_ms": call.duration_us // 1000,
        "tokens_generated": call.tokens_generated,
        "tokens_per_second": tokens_per_second,
    }
    if call.has_cache_stats:
        response.update(
            prefix_cache_hit_rate=hit_rate, prefix_cache_queries=call.queries, prefix_cache_hits=call.hits
        )
    events = [
        (call.start_us, {**engine, "event": "inference_request", "phase": "engine", "step_type": "engine"}),
        (call.end_us, response),
        (
            call.end_us,
            {
                "event": "inference_timing_breakdown",
                "batch_size": call.batch_size,
                "lora_name": call.lora_name,
                "adapter_load_time_s": call.adapter_load_s,
                "generation_time_s": call.generation_s,
                "total_time_s": round(total_s, 3),
                "tokens_generated": call.tokens_generated,
                "tokens_per_second": tokens_per_second,
                "input_tokens_per_second": round(call.prompt_tokens / call.generation_s, 1),
                "output_tokens_per_second": round(call.tokens_generated / call.generation_s, 1),
                "prompt_tokens": call.prompt_tokens,
                "prefix_cache_hit_rate": hit_rate,
            },
        ),
    ]
    if call.has_cache_stats and call.batch_size >= SAMPLED_MIN_BATCH:
        events.append(
            (
                call.end_us,
                {
                    "event": "prefix_cache_stats",
                    "batch_id": f"{rng.getrandbits(32):08x}",
                    "hit_rate": hit_rate,
                    "queries": call.queries,
                    "hits": call.hits,
                    "prompt_tokens_total": call.prompt_tokens,
                    "prompt_tokens_cached": int(call.prompt_tokens * hit_rate),
                    "cache_efficiency": hit_rate,
                    "cache_utilization": None,
                },
            )
        )
    return events
