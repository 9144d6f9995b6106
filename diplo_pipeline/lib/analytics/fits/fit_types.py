"""The values the fits pass around: the series (`Points`), one model's optimum (`Estimate`), the row of
`power_law_fits` it becomes (`Fit`), and what every model form provides (`Model`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

Refits = tuple[np.ndarray, np.ndarray]  # per bootstrap resample: the exponent, whether its refit converged


@dataclass(frozen=True)
class Points:
    """A series to fit: compute x (> 0), metric y, and the run each point comes from."""

    x: np.ndarray
    y: np.ndarray
    groups: np.ndarray

    @classmethod
    def of(cls, x: Sequence[float], y: Sequence[float], groups: Sequence[Any] | None = None) -> Points:
        xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        labels = np.zeros(len(xs), dtype=int) if groups is None else np.asarray(groups)
        if xs.ndim != 1 or xs.shape != ys.shape or labels.shape != xs.shape:
            raise ValueError("x, y and groups must be 1-d and of the same length")
        if not (np.all(np.isfinite(xs)) and np.all(xs > 0) and np.all(np.isfinite(ys))):
            raise ValueError("x must be finite and positive, y finite")
        return cls(xs, ys, labels)

    def subset(self, selection: np.ndarray) -> Points:
        return Points(self.x[selection], self.y[selection], self.groups[selection])

    @property
    def n(self) -> int:
        return len(self.x)

    @property
    def n_groups(self) -> int:
        return len(np.unique(self.groups))

    @property
    def decades(self) -> float | None:
        return float(np.log10(self.x.max() / self.x.min())) if self.n else None

    def can_fit(self, n_params: int) -> bool:
        """More points than parameters, over enough distinct x to pin them down."""
        return self.n > n_params and len(np.unique(self.x)) >= min(n_params, 3)


@dataclass(frozen=True)
class Estimate:
    """One fitted model; `theta` is in the optimiser's coordinates (where bootstrap refits start)."""

    theta: np.ndarray
    params: dict[str, float]
    exponent: float
    converged: bool
    r2: float | None
    predict: Callable[[np.ndarray], np.ndarray]
    notes: dict[str, Any] = field(default_factory=dict)
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fit:
    model: str
    params: dict[str, Any]
    exponent: float | None
    exponent_ci_low: float | None
    exponent_ci_high: float | None
    r2: float | None
    n_points: int
    n_runs: int
    x_min: float | None
    x_max: float | None
    x_decades: float | None
    converged: bool
    holdout_log_error: float | None
    flags: list[str]


class Model(Protocol):
    name: str
    n_params: int

    def usable(self, points: Points) -> Points: ...

    def estimate(self, points: Points) -> Estimate | None: ...

    def refit_exponents(self, points: Points, counts: np.ndarray, best: Estimate) -> Refits:
        """One refit per row of `counts` (how often each point enters the resample), from `best`."""
        ...

