"""Minimising a model's mean Huber loss: a grid of starts run at once by Levenberg–Marquardt, the best
polished by L-BFGS-B (scipy), and the bootstrap refits from the best fit, all at once.

The loss is divided by δ (HUBER_DELTA), so it reads as a mean absolute residual and the optimiser's
tolerances stay meaningful (the loss-scale problem Epoch AI found in the original Chinchilla fit). A model
hands in its residuals and their Jacobian in its own coordinates (`Residuals`), its starts and its bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

HUBER_DELTA = 1e-3  # Hoffmann et al.; in log space a residual of 0.1 %
BEST_LOSS_TOLERANCE = 0.01  # starts within 1 % of the best loss count as reaching it
EXPONENT_TOLERANCE = 0.01  # absolute, plus 2 % of the exponent
LBFGS_OPTIONS = {"maxiter": 1000}  # scipy's tolerances suit a loss of order one
LM_MAX_ITERATIONS = 100
LM_RELATIVE_IMPROVEMENT = 1e-7

# theta (..., k) -> residuals (..., n) in the fitted space and their Jacobian (..., n, k)
Residuals = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
Bounds = list[tuple[float, float]]


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


def minimise(
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


def refit_batch(
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


def _at_bound(theta: np.ndarray, bounds: Bounds, exempt: tuple[int, ...]) -> bool:
    for index, (value, (low, high)) in enumerate(zip(theta, bounds, strict=True)):
        if index in exempt:
            continue
        margin = 1e-6 * (high - low if np.isfinite(high - low) else 1.0)
        if value <= low + margin or value >= high - margin:
            return True
    return False
