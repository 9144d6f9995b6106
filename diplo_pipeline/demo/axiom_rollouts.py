"""What one sampled rollout puts into Axiom: its lifecycle events, order-extraction responses, inference calls.

Order responses and inference calls stay records until every rollout is built, because two planted behaviours
adjust them across rollouts before they become events: ITALY's exact extraction total on one day
(axiom_extraction) and the cumulative prefix-cache counters (axiom_cache).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from diplo_pipeline.demo.planted_episodes import DEGRADED_HOUR
from diplo_pipeline.demo.simulated_system import INFERENCE_CALLS_PER_ROLLOUT, ORDER_PHASES, POWERS
from diplo_pipeline.demo.timeline import US, Rollout

SEASONS = ("SPRING {year} MOVEMENT", "FALL {year} MOVEMENT", "WINTER {year} ADJUSTMENTS")
# Per-response outcome odds of a healthy prompt (rate ~0.99, empty < 1 %, partial ~1 %).
EMPTY_CHANCE, PARTIAL_CHANCE, OVER_CHANCE = 0.003, 0.008, 0.004
EMPTY_PREVIEWS = (
    "<think>\n{power} must decide between securing the home centres and pushing",
    "I cannot determine valid orders for this position without the unit list.",
    "",
)
PARTIAL_PREVIEWS = (
    "<orders>\nA VEN - TRI\nF NAP - ION\n</orders> & A ROM holds",
    "A BUD - SER\nF TRI S A BUD - SER\n<orders>",
)
ROLLOUT_ERRORS = (
    "TimeoutError: inference call exceeded 120s after 2 retries",
    "modal.exception.RemoteError: inference container terminated (OOM)",
)


@dataclass
class OrderResponse:
    rollout_id: str
    time_us: int
    power: str
    phase: str
    expected: int
    count: int  # orders extracted; may exceed `expected` (over-extraction, capped when scored)
    preview: str
    in_dip: bool = False  # belongs to the extraction run's dip steps (see axiom_extraction)


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
    sampled = SampledRollout(rollout, _responses(rollout, in_dip, rng), _calls(rollout, lora_kind, rng))
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


def order_event(response: OrderResponse) -> dict:
    """orders_extracted (full, no_orders_needed, or over-extracted `partial`), orders_partial, orders_empty."""
    base = {"rollout_id": response.rollout_id, "power_name": response.power, "phase": response.phase}
    if response.expected and response.count == 0:
        return {
            **base,
            "event": "orders_empty",
            "expected_count": response.expected,
            "raw_response_length": len(response.preview) * 3,
            "raw_response_preview": response.preview,
        }
    if 0 < response.count < response.expected:
        return {
            **base,
            "event": "orders_partial",
            "orders_count": response.count,
            "expected_count": response.expected,
            "raw_response_preview": response.preview,
        }
    if response.expected == 0:
        status = "no_orders_needed"
    else:
        status = "full" if response.count == response.expected else "partial"
    return {
        **base,
        "event": "orders_extracted",
        "orders_count": response.count,
        "expected_count": response.expected,
        "status": status,
    }


def _span(name: str, duration_us: int, error: str | None = None) -> dict:
    return {
        "event": "span_duration",
        "span_name": name,
        "duration_ms": duration_us // 1000,
        "status": "error" if error else "success",
        "error": error,
    }


def _responses(rollout: Rollout, in_dip: bool, rng: random.Random) -> list[OrderResponse]:
    """One response per (power, phase); the first phase is a warmup phase (all 7 powers) when there is one,
    later phases are fork phases where DumbBot-style baselines (0-2 powers) send no LLM response."""
    phases = ORDER_PHASES[rollout.horizon_type]
    first = max(0, rollout.warmup_phases - 1)
    bots = set(rng.sample(POWERS, rng.choices((0, 1, 2), weights=(0.5, 0.35, 0.15))[0]))
    responses = []
    for offset in range(phases):
        index = first + offset
        year = 1901 + index // 3
        phase = SEASONS[index % 3].format(year=year)
        warmup = offset == 0 and rollout.warmup_phases > 0
        at = rollout.start_us + int(rollout.duration_us * (0.1 + 0.8 * offset / phases))
        if at >= rollout.end_us:
            break
        for number, power in enumerate(POWERS):
            if power in bots and not warmup:
                continue
            expected = _expected_orders(power, index, year, rng)
            responses.append(
                OrderResponse(
                    rollout_id=rollout.rollout_id,
                    time_us=at + number * 1000 + rng.randint(0, 999),
                    power=power,
                    phase=phase,
                    expected=expected,
                    count=_extracted(expected, rng),
                    preview="",
                    in_dip=in_dip,
                )
            )
            set_preview(responses[-1], rng)
    return responses


def _expected_orders(power: str, index: int, year: int, rng: random.Random) -> int:
    if index % 3 == 2:  # adjustments: most powers have nothing to build or disband
        return 0 if rng.random() < 0.55 else rng.randint(1, 2)
    units = (4 if power == "RUSSIA" else 3) + round(rng.gauss(0.5 * (year - 1901), 1.0))
    return max(1, min(9, units))


def _extracted(expected: int, rng: random.Random) -> int:
    if expected == 0:
        return 0
    roll = rng.random()
    if roll < EMPTY_CHANCE:
        return 0
    if roll < EMPTY_CHANCE + PARTIAL_CHANCE and expected > 1:
        return rng.randint(1, expected - 1)
    if roll > 1 - OVER_CHANCE:
        return expected + rng.randint(1, 2)
    return expected


def set_preview(response: OrderResponse, rng: random.Random) -> None:
    """Raw-response previews go with empty and partial responses only."""
    if response.expected and response.count == 0:
        response.preview = rng.choice(EMPTY_PREVIEWS).format(power=response.power.title())
    elif 0 < response.count < response.expected:
        response.preview = rng.choice(PARTIAL_PREVIEWS)
    else:
        response.preview = ""


def _calls(rollout: Rollout, lora_kind: str, rng: random.Random) -> list[InferenceCall]:
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
