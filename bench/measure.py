"""Timing and peak-memory helpers for the benchmark (wall time with perf_counter, RSS from getrusage)."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Timed:
    seconds: float
    value: Any


def timed(fn: Callable[[], Any], repeat: int = 1) -> Timed:
    """Best of `repeat` runs: the least disturbed measurement on a shared 2-core machine."""
    best, value = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - started)
    return Timed(best, value)


def peak_rss_mb() -> float:
    """Peak resident memory of this process and of its finished children, in MiB (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024
