"""The planted episodes: one thing going wrong, each in one place, that the warehouse must find exactly.

A divergence, a crash, a crash and resume, one power's extraction drop on one day, one degraded hour, one
prefix-cache reset, and an overlapping re-export. Tests and the warehouse's own checks assert against these
values (through plan.py), so nothing planted may live anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime


@dataclass(frozen=True)
class Divergence:
    run_key: str = "diverging"
    grad_norm_spike_step: int = 74
    grad_norm_spike: float = 180.0
    kl_high_steps: tuple[int, int] = (70, 78)  # inclusive: kl/mean above 0.2 on every one
    kl_high_range: tuple[float, float] = (0.25, 0.60)
    kl_max_steps: tuple[int, int] = (72, 76)  # inclusive: kl/max above 10 on every one
    kl_max_range: tuple[float, float] = (40.0, 300.0)
    kl_max_peak: float = 400.0  # kl/max at the spike step


@dataclass(frozen=True)
class Crash:
    run_key: str = "crashed"
    last_step: int = 57  # the process is killed after logging this step: no exit record, no final row
    total_steps: int = 100  # configured


@dataclass(frozen=True)
class Resume:
    run_key: str = "resumed"
    crash_after_step: int = 47  # first process killed after logging this step
    resume_from_step: int = 40  # the last saved state (save_state_every_n_steps=10)
    last_step: int = 99
    restart_gap_s: int = 1500  # between the crash and the second process
    relogged_loss_offset: float = 1.0  # second write of steps 40..47: benchmark/loss = first write + this


@dataclass(frozen=True)
class ExtractionDrop:
    run_key: str = "extraction"
    power: str = "ITALY"
    day: date = date(2025, 12, 23)  # the run's only day; no other run has events on it
    orders_expected: int = 3000  # ITALY, Axiom orders_* events of that day
    orders_extracted: int = 2400  # capped at expected: exactly 0.80
    dip_steps: tuple[int, int] = (40, 79)  # inclusive: all of ITALY's lost orders fall in these steps
    other_powers_min_rate: float = 0.98  # every other power that day
    wandb_italy_rate_in_dip: float = 0.5  # drives extraction/rate ~0.92 in the dip (~0.99 elsewhere)

    @property
    def rate(self) -> float:
        return self.orders_extracted / self.orders_expected


@dataclass(frozen=True)
class DegradedHour:
    """The one hour whose health_hourly status is `degraded` (every other hour with events is healthy)."""

    hour: datetime = datetime(2025, 12, 21, 8, tzinfo=UTC)  # in the crashed run, before the kill
    failed_rollouts: int = 4  # each: rollout_error + failed fork span + error_spans_per_failure step spans
    error_spans_per_failure: int = 4  # (isolated failures elsewhere look the same)
    error_rate_range: tuple[float, float] = (0.01, 0.05)  # degraded from 0.01, unhealthy from 0.05
    completion_rate_range: tuple[float, float] = (0.82, 0.95)  # unhealthy below 0.80: kept clear of it


@dataclass(frozen=True)
class CacheReset:
    """prefix_cache_stats counters are cumulative; the inference engine restarts once."""

    reset_at: datetime = datetime(2025, 12, 20, 10, 27, 30, tzinfo=UTC)  # during the diverging run
    exact_hour: datetime = datetime(2025, 12, 20, 10, tzinfo=UTC)
    exact_hit_rate: float = 0.62  # hits/queries from counter differences over exact_hour, across the reset
    # Every counter increment in the hour is 31 hits per 50 queries, so any sane differencing gives 0.62.
    hit_rate_range: tuple[float, float] = (0.55, 0.72)  # per-call hit ratio everywhere else


@dataclass(frozen=True)
class DuplicateExport:
    """A second export overlapping a day file: its lines are byte-identical copies."""

    file_name: str = "diplomacy-2025-12-23T09-12-reexport.ndjson"
    start: datetime = datetime(2025, 12, 23, 9, tzinfo=UTC)
    end: datetime = datetime(2025, 12, 23, 12, tzinfo=UTC)  # exclusive


GZIPPED_DAY = date(2025, 12, 5)  # this day's export is written as .ndjson.gz

DIVERGENCE = Divergence()
CRASH = Crash()
RESUME = Resume()
EXTRACTION_DROP = ExtractionDrop()
DEGRADED_HOUR = DegradedHour()
CACHE_RESET = CacheReset()
DUPLICATE_EXPORT = DuplicateExport()
