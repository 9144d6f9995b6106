"""The three model forms of the scaling-law fits (methods.md §3.1), each with its coordinates, starts and
bounds:

- `power_law`: y = a·x^b by ordinary least squares of log y on log x. Only points with y > 0 can enter.
- `offset_power_law`: y = e + a·x^(−alpha), fitted as Epoch AI refitted Chinchilla. When every y > 0: in log
  space with the log-sum-exp form log ŷ = LSE(log a − alpha·log x, log e) (so a, e > 0) under a Huber loss
  with δ = HUBER_DELTA. When some y ≤ 0 (rewards can be): in linear space, a and e of either sign, Huber
  loss on residuals in units of the standard deviation of y. alpha may come out negative: a series that
  keeps growing is then a growing power law over a floor (`offset_negligible` when that floor is below
  NEGLIGIBLE_FLOOR_SHARE of every fitted value, i.e. the pure power law already describes the data).
- `sigmoid`: the ScaleRL saturating form R(C) = R0 + (A − R0) / (1 + (C_mid / C)^B), Huber loss in linear
  space (rewards can be negative).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from diplo_pipeline.lib.analytics.fits.fit_types import Estimate, Model, Points, Refits
from diplo_pipeline.lib.analytics.fits.optimiser import HUBER_DELTA, Bounds, Optimum, Residuals, minimise, refit_batch
from diplo_pipeline.lib.analytics.fits.residuals import (
    offset_linear_residuals,
    offset_log_residuals,
    r2,
    sigmoid_residuals,
    weighted_line,
)

ALPHA_STARTS = (-0.5, -0.1, 0.1, 0.5, 1.0)
FLOOR_STARTS = (0.01, 0.5, 0.9)  # offset e as a share of the smallest y
SIGMOID_B_STARTS = (0.5, 1.0, 2.0, 4.0)
SIGMOID_MID_QUANTILES = (0.25, 0.5, 0.75)
ALPHA_BOUNDS = (-3.0, 3.0)
SIGMOID_B_BOUNDS = (0.01, 20.0)
SIGMOID_LEVEL_SPAN = 10.0  # R0 and A within this many standard deviations of y
FLOOR_LOG_MARGIN = 20.0  # log e down to log(min y) − 20: a floor of 2e-9·min y is no floor
NEGLIGIBLE_FLOOR_SHARE = 1e-3


def models_for(points: Points) -> list[Model]:
    """The three forms, set up for this series."""
    # Reference compute, fitting space and y scale are fixed on the whole series, so the held-out and the
    # bootstrap refits optimise the same coordinates as the fit they are compared with.
    x_ref = float(np.exp(np.mean(np.log(points.x))))
    y_scale = (float(np.mean(points.y)), _spread(points.y))
    return [
        PowerLaw(),
        OffsetPowerLaw(x_ref, y_scale, log_space=bool(np.all(points.y > 0))),
        Sigmoid(x_ref, y_scale),
    ]


class PowerLaw:
    """y = a·x^b, least squares in log–log space on y > 0 (closed form: always converges)."""

    name = "power_law"
    n_params = 2

    def usable(self, points: Points) -> Points:
        return points.subset(points.y > 0)

    def estimate(self, points: Points) -> Estimate | None:
        log_x, log_y = np.log(points.x), np.log(points.y)
        b, log_a = weighted_line(log_x, log_y, np.ones((1, points.n)))
        if not np.isfinite(b[0]):
            return None
        b, log_a = float(b[0]), float(log_a[0])
        return Estimate(
            theta=np.array([log_a, b]),
            params={"a": float(np.exp(log_a)), "b": b},
            exponent=b,
            converged=True,
            r2=r2(log_y, log_y - (log_a + b * log_x)),
            predict=lambda x: np.exp(log_a) * np.asarray(x, dtype=float) ** b,
            notes={"fit_space": "log", "r2_space": "log"},
        )

    def refit_exponents(self, points: Points, counts: np.ndarray, best: Estimate) -> Refits:
        b, _ = weighted_line(np.log(points.x), np.log(points.y), counts)
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
        optimum = minimise(residuals, self._starts(points), self._bounds(points), self.exponent_index,
                            exempt=self._floor_index())
        if optimum is None:
            return None
        return self._estimate(optimum, residuals, points)

    def refit_exponents(self, points: Points, counts: np.ndarray, best: Estimate) -> Refits:
        theta, converged = refit_batch(self._residuals(points), best.theta, counts, self._bounds(points))
        return theta[:, self.exponent_index], converged

    # Coordinates: log space (log a at x_ref, log e, alpha); linear space (e, a at x_ref, alpha) in units of
    # the standard deviation of y around its mean.
    def _residuals(self, points: Points) -> Residuals:
        u = np.log(points.x / self.x_ref)
        if self.log_space:
            return offset_log_residuals(u, np.log(points.y))
        return offset_linear_residuals(u, (points.y - self.y_centre) / self.y_unit)

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
            r2=r2(target, r),
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
        optimum = minimise(residuals, self._starts(points), self._bounds(points), self.exponent_index)
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
            r2=r2(points.y / unit, r),
            predict=predict,
            notes={"fit_space": "linear", "r2_space": "linear", "huber_delta": HUBER_DELTA, **optimum.notes},
            flags=optimum.flags,
        )

    def refit_exponents(self, points: Points, counts: np.ndarray, best: Estimate) -> Refits:
        theta, converged = refit_batch(self._residuals(points), best.theta, counts, self._bounds(points))
        return theta[:, self.exponent_index], converged

    def _residuals(self, points: Points) -> Residuals:
        return sigmoid_residuals(np.log(points.x / self.x_ref), (points.y - self.y_centre) / self.y_unit)

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


MODELS = tuple(form.name for form in (PowerLaw, OffsetPowerLaw, Sigmoid))


def _spread(y: np.ndarray) -> float:
    """The unit of linear-space residuals: the standard deviation of y (1 when y is constant)."""
    spread = float(np.std(y))
    return spread if spread > 0 else 1.0
