"""Timing and peak-memory helpers for the benchmark (wall time with perf_counter, RSS from getrusage)."""

from __future__ import annotations

import resource
import statistics
import subprocess
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


def process_seconds(argv: list[str], runs: int = 5, **popen) -> float:
    """Median wall time of `runs` runs of the command `argv`, after one unmeasured run that warms the OS cache
    (a command someone types twice); each must succeed."""
    seconds = []
    for run in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, **popen)
        if run:
            seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def peak_rss_mb() -> float:
    """Peak resident memory of this process and of its finished children, in MiB (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024
