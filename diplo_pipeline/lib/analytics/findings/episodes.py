"""Where a rule's metric offends: episodes, bursts and the trailing statistics rules compare a step against.

Episodes. An episode is a maximal stretch of offending steps with no *observed* step within limits between
them: a step that did not log the metric (skipped for lack of trajectories, or a key that run never logs)
neither breaks an episode nor extends it, so `step_start`/`step_end` are always offending steps. Burst rules
("N or more steps of any window") merge overlapping qualifying windows instead.

Nothing here knows a limit: the rules pass their windows and counts in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

TRAILING_MIN_POINTS = 5  # a median of fewer earlier steps is not a baseline yet


@dataclass(frozen=True)
class Episode:
    """Offending steps of one run with the metric's values there (parallel arrays, in step order)."""

    steps: np.ndarray
    values: np.ndarray

    @property
    def start(self) -> int:
        return int(self.steps[0])

    @property
    def end(self) -> int:
        return int(self.steps[-1])

    def worst(self, highest: bool = True) -> tuple[float, int]:
        """(worst value, its step): the highest by default, the lowest for rules with a lower limit."""
        index = int(np.nanargmax(self.values) if highest else np.nanargmin(self.values))
        return float(self.values[index]), int(self.steps[index])


def nothing_observed() -> tuple[np.ndarray, np.ndarray]:
    return np.array([], dtype=np.int64), np.array([], dtype=np.float64)


def observed(steps: pl.DataFrame, column: str, keep_nan: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) where the metric was logged. NaN counts as not logged unless `keep_nan` (for the
    loss, where NaN is itself a finding)."""
    if column not in steps.columns:
        return nothing_observed()
    logged = steps.select("step", pl.col(column).cast(pl.Float64)).drop_nulls()
    if not keep_nan:
        logged = logged.drop_nans()
    return logged["step"].to_numpy(), logged[column].to_numpy()


def episodes(steps: np.ndarray, values: np.ndarray, offending: np.ndarray) -> list[Episode]:
    """Maximal runs of consecutive offending observations (see the module docstring)."""
    flags = np.concatenate([[False], offending.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(flags.astype(np.int8)))
    return [
        Episode(steps[start:end], values[start:end]) for start, end in zip(edges[::2], edges[1::2], strict=True)
    ]


def burst_episodes(
    steps: np.ndarray, values: np.ndarray, offending: np.ndarray, window: int, min_steps: int
) -> list[tuple[Episode, int]]:
    """Stretches where offending steps number `min_steps` or more within `window` consecutive step numbers,
    overlapping windows merged; with the most offending steps any one window of the stretch holds."""
    hit_steps, hit_values = steps[offending], values[offending]
    stretches: list[list[int]] = []  # [first index, last index, most hits in a window]
    for first, start in enumerate(hit_steps):
        last = int(np.searchsorted(hit_steps, start + window)) - 1  # window = start .. start + window - 1
        hits = last - first + 1
        if hits < min_steps:
            continue
        if stretches and first <= stretches[-1][1]:
            stretches[-1][1] = max(stretches[-1][1], last)
            stretches[-1][2] = max(stretches[-1][2], hits)
        else:
            stretches.append([first, last, hits])
    return [
        (Episode(hit_steps[first : last + 1], hit_values[first : last + 1]), hits)
        for first, last, hits in stretches
    ]


def trailing_median(values: np.ndarray, window: int) -> np.ndarray:
    """Median of the `window` observations before each one (NaN until TRAILING_MIN_POINTS exist)."""
    medians = np.full(len(values), np.nan)
    for i in range(TRAILING_MIN_POINTS, len(values)):
        medians[i] = np.nanmedian(values[max(0, i - window) : i])
    return medians


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each observation and the `window` - 1 before it (fewer at the start of the run)."""
    sums = np.cumsum(np.concatenate([[0.0], values]))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    ends = np.arange(1, len(values) + 1)
    return (sums[ends] - sums[ends - counts]) / counts
