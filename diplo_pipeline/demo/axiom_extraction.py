"""The planted extraction drop: ITALY's order-weighted extraction on one day is exactly plan.EXTRACTION_DROP.rate.

The responses were drawn like any other; here ITALY's ones of that day are re-dealt so that their expected
orders sum to the declared total, and exactly the declared number of orders is lost, all of it in the dip
steps (as empty and partial responses). Every other power keeps its healthy draws.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from diplo_pipeline.demo.axiom_orders import ADJUSTMENT_MAX, MOVEMENT_MAX_UNITS, OrderResponse, set_preview
from diplo_pipeline.demo.planted_episodes import EXTRACTION_DROP
from diplo_pipeline.demo.timeline import to_datetime


def plant_extraction_drop(responses: Iterable[OrderResponse], rng: random.Random) -> None:
    plan = EXTRACTION_DROP
    italy = [
        r
        for r in responses
        if r.power == plan.power and r.expected > 0 and to_datetime(r.time_us).date() == plan.day
    ]
    caps = [ADJUSTMENT_MAX if "ADJUSTMENTS" in r.phase else MOVEMENT_MAX_UNITS for r in italy]
    if not len(italy) <= plan.orders_expected <= sum(caps):
        raise ValueError(
            f"{len(italy)} {plan.power} responses cannot hold {plan.orders_expected} expected orders"
        )
    _deal_total(italy, caps, plan.orders_expected, rng)
    for response in italy:
        response.count = response.expected
    lost = plan.orders_expected - plan.orders_extracted
    dip = [r for r in italy if r.in_dip]
    rng.shuffle(dip)
    for response in dip:
        if lost == 0:
            break
        if response.expected == 1 or rng.random() < 0.4:
            loss = min(lost, response.expected)  # empty, unless that would overshoot
        else:
            loss = min(lost, rng.randint(1, response.expected - 1))
        response.count = response.expected - loss
        lost -= loss
    if lost:
        raise ValueError(f"the dip steps hold too few {plan.power} orders to lose {lost} more")
    for response in italy:
        set_preview(response, rng)


def _deal_total(responses: list[OrderResponse], caps: list[int], total: int, rng: random.Random) -> None:
    """Nudge expected counts one order at a time, within [1, cap], until they sum to `total`."""
    difference = total - sum(r.expected for r in responses)
    step = 1 if difference > 0 else -1
    while difference:
        index = rng.randrange(len(responses))
        value = responses[index].expected + step
        if 1 <= value <= caps[index]:
            responses[index].expected = value
            difference -= step
