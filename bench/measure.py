"""Timing and peak-memory helpers for the benchmark (wall time with perf_counter, RSS from getrusage), and the
results file every part of the benchmark adds its section to."""

from __future__ import annotations

import json
import re
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
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


def reset_peak_rss() -> bool:
    """Start this process's peak resident memory afresh (Linux: `clear_refs` 5 resets VmHWM), so the next
    `since_reset_peak_rss_mb` is the peak of what runs in between. False where it cannot be reset."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def since_reset_peak_rss_mb() -> float:
    """This process's peak resident memory since `reset_peak_rss` (VmHWM), in MiB; else its lifetime peak."""
    try:
        found = re.search(r"^VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    except OSError:
        found = None
    if found is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return int(found[1]) / 1024


def merge_results(path: Path, section: dict[str, Any]) -> None:
    """Write `section`'s keys into the JSON results file, keeping the keys other parts of the bench wrote there."""
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError):
        results = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**results, **section}, indent=1))
