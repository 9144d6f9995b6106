"""Cumulative vLLM prefix-cache counters behind `prefix_cache_stats` and `inference_response`.

The counters grow with every generate call of the one shared inference engine and drop to zero once, when the
engine restarts at plan.CACHE_RESET.reset_at. Over plan.CACHE_RESET.exact_hour every increment is 31 hits per
50 queried tokens, starting right after the last sample before the hour, so the hour's hit rate is exactly
0.62 however the counter differences are taken (with the previous sample or within the hour, with the reset
counted from zero or skipped).
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from diplo_pipeline.demo.axiom_inference import SAMPLED_MIN_BATCH, InferenceCall
from diplo_pipeline.demo.planted_episodes import CACHE_RESET
from diplo_pipeline.demo.timeline import HOUR_US, to_us

EXACT_QUANTUM = 50  # queried tokens per 31 hits in the exact hour


def assign_cache_counters(calls: Iterable[InferenceCall], rng: random.Random) -> None:
    # The counters are read when a call returns, so they grow in the order calls end.
    ordered = sorted((c for c in calls if c.has_cache_stats), key=lambda c: c.end_us)
    hour_start = to_us(CACHE_RESET.exact_hour)
    hour_end = hour_start + HOUR_US
    before = [i for i, c in enumerate(ordered) if c.end_us < hour_start and c.batch_size >= SAMPLED_MIN_BATCH]
    exact_from = before[-1] + 1 if before else 0
    reset_at = to_us(CACHE_RESET.reset_at)
    queries = hits = 0
    was_reset = False
    for index, call in enumerate(ordered):
        if not was_reset and call.end_us >= reset_at:
            queries = hits = 0
            was_reset = True
        if exact_from <= index and call.end_us < hour_end:
            call.prompt_tokens = max(EXACT_QUANTUM, call.prompt_tokens // EXACT_QUANTUM * EXACT_QUANTUM)
            added_hits = (
                call.prompt_tokens // EXACT_QUANTUM * round(EXACT_QUANTUM * CACHE_RESET.exact_hit_rate)
            )
        else:
            added_hits = round(call.prompt_tokens * rng.uniform(*CACHE_RESET.hit_rate_range))
        queries += call.prompt_tokens
        hits += added_hits
        call.queries, call.hits = queries, hits
