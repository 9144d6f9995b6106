"""Order-extraction responses of a sampled rollout, and the `orders_*` event each one becomes.

A response stays a record until every rollout is built, because the planted extraction drop
(axiom_extraction) re-deals one power's responses of one day across rollouts before they become events.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from diplo_pipeline.demo.simulated_system import ORDER_PHASES, POWERS
from diplo_pipeline.demo.timeline import Rollout

SEASONS = ("SPRING {year} MOVEMENT", "FALL {year} MOVEMENT", "WINTER {year} ADJUSTMENTS")
MOVEMENT_MAX_UNITS = 9  # a power's orders in a movement phase: one per unit, at most this many
ADJUSTMENT_MAX = 2  # builds or disbands in an adjustment phase
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


def order_responses(rollout: Rollout, in_dip: bool, rng: random.Random) -> list[OrderResponse]:
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
        return 0 if rng.random() < 0.55 else rng.randint(1, ADJUSTMENT_MAX)
    units = (4 if power == "RUSSIA" else 3) + round(rng.gauss(0.5 * (year - 1901), 1.0))
    return max(1, min(MOVEMENT_MAX_UNITS, units))


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
