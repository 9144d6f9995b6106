"""Scaling-law fits of a metric against compute (methods.md §3.1): plain numpy/scipy, no Dagster.

Three models are fitted to one series of points (x = compute, > 0; y = the metric, any sign):

- `power_law`: y = a·x^b by ordinary least squares of log y on log x. Only points with y > 0 can enter;
  how many were left out is `params["dropped_nonpositive"]` (and the flag `dropped_nonpositive`).
- `offset_power_law`: y = e + a·x^(−alpha), fitted as Epoch AI refitted Chinchilla. When every y > 0: in log
  space with the log-sum-exp form log ŷ = LSE(log a − alpha·log x, log e) (so a, e > 0) under a Huber loss
  with δ = 1e-3. When some y ≤ 0 (rewards can be): in linear space, a and e of either sign, Huber loss on
  residuals in units of the standard deviation of y. `params["fit_space"]` says which. alpha may come out
  negative: a series that keeps growing is then a growing power law over a floor (`offset_negligible` when
  that floor is below 0.1 % of every fitted value, i.e. the pure power law already describes the data).
- `sigmoid`: the ScaleRL saturating form R(C) = R0 + (A − R0) / (1 + (C_mid / C)^B), Huber loss in linear
  space (rewards can be negative).

The two non-linear models are minimised from a grid of starting points (all run at once by
Levenberg–Marquardt on the Huber loss), and the best is polished by L-BFGS-B, whose verdict is `converged`;
`params["starts_agree"]` is true when at least two starts reached the best loss (within 1 %) and agree on
the exponent, i.e. the optimum is not an accident of one start. The loss is divided by δ, so it reads as a
mean absolute residual and the optimiser's tolerances stay meaningful (the loss-scale problem Epoch AI found
in the original Chinchilla fit).

Per fit:
- `exponent`: b (power_law), alpha (offset_power_law) or B (sigmoid).
- `exponent_ci_low`, `exponent_ci_high`: 95 % percentile bootstrap over 200 resamples with a fixed seed.
  Whole runs are resampled when the points come from several runs, single points otherwise. Each resample
  is refitted from the best fit by Levenberg–Marquardt on the same Huber loss (all resamples at once).
- `r2`: the coefficient of determination in the space the model is fitted in: log y for power_law and for
  offset_power_law fitted in log space, y otherwise (`params["r2_space"]`).
- `n_points`: the points the model was fitted to; `x_decades`: log10(max x / min x) over them.
- `holdout_log_error`: refit on all but the largest-x 20 %, predict those: mean |log ŷ − log y|, or mean
  |ŷ − y| when a held-out value or prediction is ≤ 0 (`params["holdout_error_space"]`).
- `params` (JSON in the table): the model's parameters on the original scale (`a`, `b` | `e`, `a`, `alpha` |
  `r0`, `a`, `c_mid`, `b`) and how they were obtained: `fit_space`, `r2_space`, `huber_delta`, `starts`,
  `starts_at_best`, `starts_agree`, `loss` (mean Huber loss / δ at the optimum), `holdout_points`,
  `holdout_error_space`, `bootstrap_unit` (`run` or `point`), `bootstrap_refits` (finite refits the interval
  rests on), `bootstrap_converged` (of those, refits whose loss had stopped improving), `dropped_nonpositive`.
- `flags`: `few_points` (fewer than 10 points, or than 3 per parameter), `narrow_range` (less than one
  decade of x), `few_runs` (a group of 2 runs: its bootstrap has 3 distinct resamples),
  `exponent_ci_includes_zero`, `ci_unavailable`, `not_converged`, `starts_disagree`, `param_at_bound` (the
  optimum sits on a search bound, e.g. a sigmoid whose ceiling lies far beyond the data),
  `offset_negligible`, `dropped_nonpositive`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

MODELS = ("power_law", "offset_power_law", "sigmoid")
HUBER_DELTA = 1e-3  # Hoffmann et al.; in log space a residual of 0.1 %
BOOTSTRAP_RESAMPLES = 200
CI_PERCENTILES = (2.5, 97.5)
MIN_BOOTSTRAP_SHARE = 0.5  # fewer finite refits than this and no interval is reported
HOLDOUT_FRACTION = 0.2
MIN_POINTS = 10
POINTS_PER_PARAM = 3
MIN_DECADES = 1.0
MIN_RUNS_FOR_CI = 3
SEED = 20251205

ALPHA_STARTS = (-0.5, -0.1, 0.1, 0.5, 1.0)
FLOOR_STARTS = (0.01, 0.5, 0.9)  # offset e as a share of the smallest y
SIGMOID_B_STARTS = (0.5, 1.0, 2.0, 4.0)
SIGMOID_MID_QUANTILES = (0.25, 0.5, 0.75)
ALPHA_BOUNDS = (-3.0, 3.0)
SIGMOID_B_BOUNDS = (0.01, 20.0)
SIGMOID_LEVEL_SPAN = 10.0  # R0 and A within this many standard deviations of y
FLOOR_LOG_MARGIN = 20.0  # log e down to log(min y) − 20: a floor of 2e-9·min y is no floor
BEST_LOSS_TOLERANCE = 0.01
EXPONENT_TOLERANCE = 0.01  # absolute, plus 2 % of the exponent
NEGLIGIBLE_FLOOR_SHARE = 1e-3
LBFGS_OPTIONS = {"maxiter": 1000}  # scipy's tolerances suit a loss of order one
LM_MAX_ITERATIONS = 100
LM_RELATIVE_IMPROVEMENT = 1e-7

# theta (..., k) -> residuals (..., n) in the fitted space and their Jacobian (..., n, k)
Residuals = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
Bounds = list[tuple[float, float]]
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


def fit_series(x: Sequence[float], y: Sequence[float], groups: Sequence[Any] | None = None) -> list[Fit]:
    """Every model of MODELS fitted to one series; `groups` names the run of each point."""
    points = Points.of(x, y, groups)
    return [fit_model(model, points) for model in models_for(points)]


def models_for(points: Points) -> list[Model]:
    # Reference compute, fitting space and y scale are fixed on the whole series, so the held-out and the
    # bootstrap refits optimise the same coordinates as the fit they are compared with.
    x_ref = float(np.exp(np.mean(np.log(points.x))))
    y_scale = (float(np.mean(points.y)), _spread(points.y))
    return [
        PowerLaw(),
        OffsetPowerLaw(x_ref, y_scale, log_space=bool(np.all(points.y > 0))),
        Sigmoid(x_ref, y_scale),
    ]


def fit_model(model: Model, points: Points) -> Fit:
    usable = model.usable(points)
    params: dict[str, Any] = {}
    flags = []
    if usable.n < points.n:
        params["dropped_nonpositive"] = points.n - usable.n
        flags.append("dropped_nonpositive")
    best = model.estimate(usable) if _fittable(usable, model.n_params) else None
    if best is None:
        return _unfitted(model, usable, params, flags + ["few_points", "not_converged"])
    ci, bootstrap_notes = _bootstrap_ci(model, usable, best)
    holdout_error, holdout_notes = _holdout_error(model, usable)
    params.update(best.params)
    params.update(best.notes)
    params.update(holdout_notes)
    params.update(bootstrap_notes, bootstrap_unit="run" if usable.n_groups > 1 else "point")
    return Fit(
        model=model.name,
        params=params,
        exponent=best.exponent,
        exponent_ci_low=ci[0] if ci else None,
        exponent_ci_high=ci[1] if ci else None,
        r2=best.r2,
        n_points=usable.n,
        n_runs=usable.n_groups,
        x_min=float(usable.x.min()),
        x_max=float(usable.x.max()),
        x_decades=usable.decades,
        converged=best.converged,
        holdout_log_error=holdout_error,
        flags=flags + _quality_flags(model, usable, best, ci),
    )


def _fittable(points: Points, n_params: int) -> bool:
    return points.n > n_params and len(np.unique(points.x)) >= min(n_params, 3)


def _unfitted(model: Model, usable: Points, params: dict[str, Any], flags: list[str]) -> Fit:
    if usable.n and usable.decades < MIN_DECADES:
        flags.append("narrow_range")
    return Fit(
        model=model.name,
        params=params,
        exponent=None,
        exponent_ci_low=None,
        exponent_ci_high=None,
        r2=None,
        n_points=usable.n,
        n_runs=usable.n_groups,
        x_min=float(usable.x.min()) if usable.n else None,
        x_max=float(usable.x.max()) if usable.n else None,
        x_decades=usable.decades,
        converged=False,
        holdout_log_error=None,
        flags=flags,
    )


def _quality_flags(model: Model, usable: Points, best: Estimate, ci: tuple[float, float] | None) -> list[str]:
    flags = []
    if usable.n < max(MIN_POINTS, POINTS_PER_PARAM * model.n_params):
        flags.append("few_points")
    if usable.decades < MIN_DECADES:
        flags.append("narrow_range")
    if 1 < usable.n_groups < MIN_RUNS_FOR_CI:
        flags.append("few_runs")
    if ci is None:
        flags.append("ci_unavailable")
    elif ci[0] <= 0 <= ci[1]:
        flags.append("exponent_ci_includes_zero")
    if not best.converged:
        flags.append("not_converged")
    return flags + list(best.flags)


# --- uncertainty and validation -------------------------------------------------------------------------


def _resample_counts(points: Points, rng: np.random.Generator) -> np.ndarray:
    """How often each point enters each bootstrap resample, shape (resamples, points): whole runs when
    there are several (methods.md: resample experiments, not steps within one), single points otherwise."""
    labels, group_of_point = np.unique(points.groups, return_inverse=True)
    if len(labels) > 1:
        drawn = rng.integers(len(labels), size=(BOOTSTRAP_RESAMPLES, len(labels)))
        times_drawn = np.stack([np.bincount(row, minlength=len(labels)) for row in drawn])
        return times_drawn[:, group_of_point].astype(float)
    drawn = rng.integers(points.n, size=(BOOTSTRAP_RESAMPLES, points.n))
    return np.stack([np.bincount(row, minlength=points.n) for row in drawn]).astype(float)


def _bootstrap_ci(model: Model, points: Points, best: Estimate) -> tuple[tuple[float, float] | None, dict]:
    """Percentile interval of the exponent, and how many refits it rests on.

    Every finite refit counts, converged or not: each starts at the full-data optimum and only ever lowers
    its loss, and its exponent settles long before the loss of a near-L1 fit stops creeping down (leaving
    the slow ones out would bias the interval towards the resamples that fit most easily).
    """
    counts = _resample_counts(points, np.random.default_rng(SEED))  # same resamples for every model and run
    exponents, converged = model.refit_exponents(points, counts, best)
    finite = np.isfinite(exponents)
    notes = {"bootstrap_refits": int(finite.sum()), "bootstrap_converged": int((converged & finite).sum())}
    if finite.sum() < MIN_BOOTSTRAP_SHARE * BOOTSTRAP_RESAMPLES:
        return None, notes
    low, high = np.percentile(exponents[finite], CI_PERCENTILES)
    return (float(low), float(high)), notes


def _holdout_error(model: Model, points: Points) -> tuple[float | None, dict[str, Any]]:
    """Fit on all but the largest-x share, predict that share (leave-largest-out, methods.md)."""
    cutoff = np.quantile(points.x, 1 - HOLDOUT_FRACTION)
    train, test = points.subset(points.x <= cutoff), points.subset(points.x > cutoff)
    estimate = model.estimate(train) if test.n and _fittable(train, model.n_params) else None
    if estimate is None:
        return None, {}
    predicted = estimate.predict(test.x)
    if np.all(test.y > 0) and np.all(predicted > 0):
        error, space = np.mean(np.abs(np.log(predicted) - np.log(test.y))), "log"
    else:
        error, space = np.mean(np.abs(predicted - test.y)), "linear"
    return float(error), {"holdout_points": test.n, "holdout_error_space": space}


# --- the models ------------------------------------------------------------------------------------------


class PowerLaw:
    """y = a·x^b, least squares in log–log space on y > 0 (closed form: always converges)."""

    name = "power_law"
    n_params = 2

    def usable(self, points: Points) -> Points:
        return points.subset(points.y > 0)

    def estimate(self, points: Points) -> Estimate | None:
        log_x, log_y = np.log(points.x), np.log(points.y)
        b, log_a = _weighted_line(log_x, log_y, np.ones((1, points.n)))
        if not np.isfinite(b[0]):
            return None
        b, log_a = float(b[0]), float(log_a[0])
        return Estimate(
            theta=np.array([log_a, b]),
            params={"a": float(np.exp(log_a)), "b": b},
            exponent=b,
            converged=True,
            r2=_r2(log_y, log_y - (log_a + b * log_x)),
            predict=lambda x: np.exp(log_a) * np.asarray(x, dtype=float) ** b,
            notes={"fit_space": "log", "r2_space": "log"},
        )

    def refit_exponents(self, points: Points, counts: np.ndarray, best: Estimate) -> Refits:
        b, _ = _weighted_line(np.log(points.x), np.log(points.y), counts)
        return b, np.isfinite(b)


class OffsetPowerLaw:
    """y = e + a·x^(−alpha): Huber in log space with the LSE form when every y > 0, else in linear space.

    Optimised in u = log(x / x_ref), and in linear space on standardised y, so that every parameter is of
    order one whatever the units of compute and metric.
    """

    name = "offset_power_law"
    n_params = 3
    exponent_index = 2

    def __init__(self, x_ref: float, y_scale: tuple[float, float], log_space: bool):
        self.x_ref = x_ref
        self.y_centre, self.y_unit = y_scale
        self.log_space = log_space

    def usable(self, points: Points) -> Points:
        return points

    def estimate(self, points: Points) -> Estimate | None:
        residuals = self._residuals(points)
        optimum = _minimise(residuals, self._starts(points), self._bounds(points), self.exponent_index,
                            exempt=self._floor_index())
        if optimum is None:
            return None
        return self._estimate(optimum, residuals, points)

    def refit_exponents(self, points: Points, counts: np.ndarray, best: Estimate) -> Refits:
        theta, converged = _refit_batch(self._residuals(points), best.theta, counts, self._bounds(points))
        return theta[:, self.exponent_index], converged

    # Coordinates: log space (log a at x_ref, log e, alpha); linear space (e, a at x_ref, alpha) in units of
    # the standard deviation of y around its mean.
    def _residuals(self, points: Points) -> Residuals:
        u = np.log(points.x / self.x_ref)
        if self.log_space:
            return _offset_log_residuals(u, np.log(points.y))
        return _offset_linear_residuals(u, (points.y - self.y_centre) / self.y_unit)

    def _bounds(self, points: Points) -> Bounds:
        if self.log_space:
            log_y = np.log(points.y)
            return [(-np.inf, np.inf), (log_y.min() - FLOOR_LOG_MARGIN, log_y.max()), ALPHA_BOUNDS]
        return [(-np.inf, np.inf), (-np.inf, np.inf), ALPHA_BOUNDS]

    def _floor_index(self) -> tuple[int, ...]:
        # In log space a floor at its lower bound means "no floor": reported as `offset_negligible`.
        return (1,) if self.log_space else ()

    def _starts(self, points: Points) -> list[list[float]]:
        u = np.log(points.x / self.x_ref)
        if self.log_space:
            y, floor = points.y, points.y.min()
            return [
                [np.mean(np.log(y - share * floor) + alpha * u), np.log(share * floor), alpha]
                for alpha in ALPHA_STARTS
                for share in FLOOR_STARTS
            ]
        z = (points.y - self.y_centre) / self.y_unit
        starts = []
        for alpha in ALPHA_STARTS:  # e and a are linear given alpha: start each alpha at their best values
            e, a = np.linalg.lstsq(np.column_stack([np.ones_like(u), np.exp(-alpha * u)]), z, rcond=None)[0]
            starts.append([e, a, alpha])
        return starts

    def _estimate(self, optimum: Optimum, residuals: Residuals, points: Points) -> Estimate:
        first, second, alpha = optimum.theta
        x_ref, centre, unit = self.x_ref, self.y_centre, self.y_unit
        r, _ = residuals(optimum.theta)
        flags = list(optimum.flags)
        if self.log_space:
            log_a, log_e = first, second
            log_fitted = np.log(points.y) + r
            if np.all(log_e - log_fitted < np.log(NEGLIGIBLE_FLOOR_SHARE)):
                flags.append("offset_negligible")
            params = {"e": float(np.exp(log_e)), "a": float(np.exp(log_a + alpha * np.log(x_ref)))}
            target = np.log(points.y)

            def predict(x: np.ndarray) -> np.ndarray:
                return np.exp(np.logaddexp(log_a - alpha * np.log(np.asarray(x) / x_ref), log_e))
        else:
            e, a = first, second
            params = {"e": float(centre + unit * e), "a": float(unit * a * x_ref**alpha)}
            target = (points.y - centre) / unit

            def predict(x: np.ndarray) -> np.ndarray:
                return centre + unit * (e + a * (np.asarray(x) / x_ref) ** (-alpha))

        space = "log" if self.log_space else "linear"
        return Estimate(
            theta=optimum.theta,
            params={**params, "alpha": float(alpha)},
            exponent=float(alpha),
            converged=optimum.converged,
            r2=_r2(target, r),
            predict=predict,
            notes={"fit_space": space, "r2_space": space, "huber_delta": HUBER_DELTA, **optimum.notes},
            flags=tuple(flags),
        )


class Sigmoid:
    """ScaleRL: R(C) = R0 + (A − R0) / (1 + (C_mid / C)^B), Huber loss in linear space.

    With u = log(C / x_ref), m = log(C_mid / x_ref) and y standardised: R0 + (A − R0)·σ(B·(u − m)).
    """

    name = "sigmoid"
    n_params = 4
    exponent_index = 2

    def __init__(self, x_ref: float, y_scale: tuple[float, float]):
        self.x_ref = x_ref
        self.y_centre, self.y_unit = y_scale

    def usable(self, points: Points) -> Points:
        return points

    def estimate(self, points: Points) -> Estimate | None:
        residuals = self._residuals(points)
        optimum = _minimise(residuals, self._starts(points), self._bounds(points), self.exponent_index)
        if optimum is None:
            return None
        r0, top, b, m = optimum.theta
        x_ref, centre, unit = self.x_ref, self.y_centre, self.y_unit
        r, _ = residuals(optimum.theta)

        def predict(x: np.ndarray) -> np.ndarray:
            return centre + unit * (r0 + (top - r0) * expit(b * (np.log(np.asarray(x) / x_ref) - m)))

        return Estimate(
            theta=optimum.theta,
            params={"r0": float(centre + unit * r0), "a": float(centre + unit * top),
                    "c_mid": float(x_ref * np.exp(m)), "b": float(b)},
            exponent=float(b),
            converged=optimum.converged,
            r2=_r2(points.y / unit, r),
            predict=predict,
            notes={"fit_space": "linear", "r2_space": "linear", "huber_delta": HUBER_DELTA, **optimum.notes},
            flags=optimum.flags,
        )

    def refit_exponents(self, points: Points, counts: np.ndarray, best: Estimate) -> Refits:
        theta, converged = _refit_batch(self._residuals(points), best.theta, counts, self._bounds(points))
        return theta[:, self.exponent_index], converged

    def _residuals(self, points: Points) -> Residuals:
        return _sigmoid_residuals(np.log(points.x / self.x_ref), (points.y - self.y_centre) / self.y_unit)

    def _bounds(self, points: Points) -> Bounds:
        # The ceiling and the midpoint may lie beyond the data, but not without limit: a fit that runs into
        # these bounds has found no saturation in the data (flag `param_at_bound`).
        z = (points.y - self.y_centre) / self.y_unit
        level = (z.min() - SIGMOID_LEVEL_SPAN, z.max() + SIGMOID_LEVEL_SPAN)
        u = np.log(points.x / self.x_ref)
        span = max(np.ptp(u), 1e-6)
        return [level, level, SIGMOID_B_BOUNDS, (u.min() - span, u.max() + span)]

    def _starts(self, points: Points) -> list[np.ndarray]:
        u, z = np.log(points.x / self.x_ref), (points.y - self.y_centre) / self.y_unit
        low, high = np.array(self._bounds(points)).T
        starts = []
        for b in SIGMOID_B_STARTS:
            for m in np.quantile(u, SIGMOID_MID_QUANTILES):
                p = expit(b * (u - m))  # R0 and A are linear given B and the midpoint
                r0, top = np.linalg.lstsq(np.column_stack([1 - p, p]), z, rcond=None)[0]
                starts.append(np.clip([r0, top, b, m], low, high))
        return starts


# --- residuals in the fitted space -----------------------------------------------------------------------


def _offset_log_residuals(u: np.ndarray, log_y: np.ndarray) -> Residuals:
    def residuals(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        log_a, log_e, alpha = (theta[..., i, None] for i in range(3))
        power_term = log_a - alpha * u
        log_fitted = np.logaddexp(power_term, log_e)
        power_share = np.exp(power_term - log_fitted)  # d log ŷ / d log a
        jacobian = np.stack(np.broadcast_arrays(power_share, 1 - power_share, -u * power_share), axis=-1)
        return log_fitted - log_y, jacobian

    return residuals


def _offset_linear_residuals(u: np.ndarray, z: np.ndarray) -> Residuals:
    def residuals(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e, a, alpha = (theta[..., i, None] for i in range(3))
        decay = np.exp(-alpha * u)
        jacobian = np.stack(np.broadcast_arrays(np.ones_like(decay), decay, -a * u * decay), axis=-1)
        return e + a * decay - z, jacobian

    return residuals


def _sigmoid_residuals(u: np.ndarray, z: np.ndarray) -> Residuals:
    def residuals(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r0, top, b, m = (theta[..., i, None] for i in range(4))
        p = expit(b * (u - m))
        bend = (top - r0) * p * (1 - p)
        jacobian = np.stack(np.broadcast_arrays(1 - p, p, bend * (u - m), -bend * b), axis=-1)
        return r0 + (top - r0) * p - z, jacobian

    return residuals


# --- optimisers ------------------------------------------------------------------------------------------


def _huber(residual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Huber loss divided by δ (≈ |r| beyond δ), and its derivative."""
    size = np.abs(residual)
    loss = np.where(size <= HUBER_DELTA, 0.5 * residual**2 / HUBER_DELTA, size - 0.5 * HUBER_DELTA)
    return loss, np.clip(residual / HUBER_DELTA, -1.0, 1.0)


@dataclass(frozen=True)
class Optimum:
    theta: np.ndarray
    converged: bool
    notes: dict[str, Any]
    flags: tuple[str, ...]


def _minimise(
    residuals: Residuals, starts: list, bounds: Bounds, exponent_index: int, exempt: tuple[int, ...] = ()
) -> Optimum | None:
    """The best minimum of the mean Huber loss over a grid of starts, and whether the starts agree on it.

    Every start is run at once by Levenberg–Marquardt (`_levenberg_marquardt`); the best is then polished by
    L-BFGS-B, whose verdict is `converged`. One L-BFGS-B call per start finds the same minima ~10x slower:
    scipy's L-BFGS-B pays 0.5-3 ms of OpenBLAS thread overhead per iteration (measured on a busy 2-core
    machine). `exempt`: parameters whose bound is a legitimate answer, not a warning.
    """
    grid = np.asarray(starts, dtype=float)
    theta, loss, _ = _levenberg_marquardt(residuals, grid, np.ones((1, 1)), bounds)
    finite = np.isfinite(loss) & np.all(np.isfinite(theta), axis=1)
    if not finite.any():
        return None
    theta, loss = theta[finite], loss[finite]
    best = int(np.argmin(loss))
    polished = minimize(_mean_huber(residuals), theta[best], jac=True, method="L-BFGS-B", bounds=bounds,
                        options=LBFGS_OPTIONS)
    optimum = polished.x if polished.fun <= loss[best] else theta[best]
    near = loss <= loss[best] * (1 + BEST_LOSS_TOLERANCE) + 1e-12
    tolerance = EXPONENT_TOLERANCE + 0.02 * abs(optimum[exponent_index])
    spread = np.abs(theta[near, exponent_index] - optimum[exponent_index])
    agree = bool(near.sum() >= 2 and np.all(spread <= tolerance))
    flags = [] if agree else ["starts_disagree"]
    if _at_bound(optimum, bounds, exempt):
        flags.append("param_at_bound")
    notes = {"starts": len(grid), "starts_at_best": int(near.sum()), "starts_agree": agree,
             "loss": float(min(polished.fun, loss[best]))}
    return Optimum(optimum, bool(polished.success), notes, tuple(flags))


def _mean_huber(residuals: Residuals) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        r, jacobian = residuals(theta)
        value, slope = _huber(r)
        return float(value.mean()), slope @ jacobian / len(r)

    return loss


def _refit_batch(
    residuals: Residuals, start: np.ndarray, counts: np.ndarray, bounds: Bounds
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap refits from the best fit, all at once: parameters and whether each converged."""
    starts = np.repeat(start[None, :], len(counts), axis=0)
    theta, _, converged = _levenberg_marquardt(residuals, starts, counts, bounds)
    return theta, converged


def _levenberg_marquardt(
    residuals: Residuals, theta: np.ndarray, counts: np.ndarray, bounds: Bounds
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimise the count-weighted mean Huber loss for every row of `theta` (with its row of `counts`, how
    often each point enters; a single column weighs all points alike) at once: a numpy loop over all rows
    instead of one optimiser call per row.

    Levenberg–Marquardt on the iteratively reweighted least-squares form of the Huber loss (each residual
    weighted by 1/max(δ, |r|)), steps clipped to the bounds. Returns the parameters, their losses, and
    whether each row converged (its loss stopped improving by more than LM_RELATIVE_IMPROVEMENT).
    """
    theta = theta.astype(float).copy()
    n_rows, n_params = theta.shape
    counts = np.broadcast_to(counts, (n_rows, counts.shape[1]))
    low, high = (np.array(side, dtype=float) for side in zip(*bounds, strict=True))

    def evaluate(rows: np.ndarray, candidate: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r, jacobian = residuals(candidate)
        weights = np.broadcast_to(counts[rows], r.shape)
        return (weights * _huber(r)[0]).sum(axis=1) / weights.sum(axis=1), r, jacobian

    everything = np.arange(n_rows)
    loss, r, jacobian = evaluate(everything, theta)
    damping = np.full(n_rows, 1e-3)
    done = np.zeros(n_rows, dtype=bool)
    for _ in range(LM_MAX_ITERATIONS):
        active = np.flatnonzero(~done)  # converged rows cost nothing more
        if not len(active):
            break
        weighted = (counts[active] / np.maximum(HUBER_DELTA, np.abs(r[active])))[..., None] * jacobian[active]
        normal = weighted.transpose(0, 2, 1) @ jacobian[active]
        gradient = (weighted.transpose(0, 2, 1) @ r[active, :, None])[..., 0]
        # Marquardt's scaling by the diagonal, with a floor so a parameter without influence (a negligible
        # floor) cannot make the system singular.
        diagonal = np.diagonal(normal, axis1=1, axis2=2) + 1e-9 * (1 + normal.max(axis=(1, 2)))[:, None]
        system = normal + damping[active, None, None] * np.eye(n_params) * diagonal[:, None, :]
        step = np.linalg.solve(system, gradient[..., None])[..., 0]
        candidate = np.clip(theta[active] - step, low, high)
        new_loss, new_r, new_jacobian = evaluate(active, candidate)
        better = new_loss < loss[active]
        improved = active[better]
        done[improved] = loss[improved] - new_loss[better] <= LM_RELATIVE_IMPROVEMENT * loss[improved]
        theta[improved], r[improved], jacobian[improved], loss[improved] = (
            candidate[better], new_r[better], new_jacobian[better], new_loss[better]
        )
        damping[active] = np.where(better, damping[active] / 3, damping[active] * 4)
        done |= damping > 1e12  # no step improves the loss any more: a minimum to working precision
    return theta, loss, done


def _weighted_line(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slope and intercept of the weighted least-squares line per row of `weights` (NaN if x is flat)."""
    total = weights.sum(axis=1)
    x_mean, y_mean = weights @ x / total, weights @ y / total
    dx = x[None, :] - x_mean[:, None]
    spread = (weights * dx**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        covariance = (weights * dx * (y[None, :] - y_mean[:, None])).sum(axis=1)
        slope = np.where(spread > 0, covariance / spread, np.nan)
    return slope, y_mean - slope * x_mean


def _at_bound(theta: np.ndarray, bounds: Bounds, exempt: tuple[int, ...]) -> bool:
    for index, (value, (low, high)) in enumerate(zip(theta, bounds, strict=True)):
        if index in exempt:
            continue
        margin = 1e-6 * (high - low if np.isfinite(high - low) else 1.0)
        if value <= low + margin or value >= high - margin:
            return True
    return False


def _spread(y: np.ndarray) -> float:
    """The unit of linear-space residuals: the standard deviation of y (1 when y is constant)."""
    spread = float(np.std(y))
    return spread if spread > 0 else 1.0


def _r2(observed: np.ndarray, residual: np.ndarray) -> float | None:
    total = float(np.sum((observed - observed.mean()) ** 2))
    return 1.0 - float(np.sum(residual**2)) / total if total > 0 else None
