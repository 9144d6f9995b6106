"""What the model forms are fitted by: the residuals and Jacobian of each non-linear form in its fitted
coordinates (for the optimiser), the power law's closed-form weighted least-squares line, and R².

Coordinates: u = log(x / x_ref); z = y standardised (linear space) or log y (log space).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from diplo_pipeline.lib.analytics.fits.optimiser import Residuals


def offset_log_residuals(u: np.ndarray, log_y: np.ndarray) -> Residuals:
    def residuals(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        log_a, log_e, alpha = (theta[..., i, None] for i in range(3))
        power_term = log_a - alpha * u
        log_fitted = np.logaddexp(power_term, log_e)
        power_share = np.exp(power_term - log_fitted)  # d log ŷ / d log a
        jacobian = np.stack(np.broadcast_arrays(power_share, 1 - power_share, -u * power_share), axis=-1)
        return log_fitted - log_y, jacobian

    return residuals


def offset_linear_residuals(u: np.ndarray, z: np.ndarray) -> Residuals:
    def residuals(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e, a, alpha = (theta[..., i, None] for i in range(3))
        decay = np.exp(-alpha * u)
        jacobian = np.stack(np.broadcast_arrays(np.ones_like(decay), decay, -a * u * decay), axis=-1)
        return e + a * decay - z, jacobian

    return residuals


def sigmoid_residuals(u: np.ndarray, z: np.ndarray) -> Residuals:
    def residuals(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r0, top, b, m = (theta[..., i, None] for i in range(4))
        p = expit(b * (u - m))
        bend = (top - r0) * p * (1 - p)
        jacobian = np.stack(np.broadcast_arrays(1 - p, p, bend * (u - m), -bend * b), axis=-1)
        return r0 + (top - r0) * p - z, jacobian

    return residuals



def weighted_line(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slope and intercept of the weighted least-squares line per row of `weights` (NaN if x is flat)."""
    total = weights.sum(axis=1)
    x_mean, y_mean = weights @ x / total, weights @ y / total
    dx = x[None, :] - x_mean[:, None]
    spread = (weights * dx**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        covariance = (weights * dx * (y[None, :] - y_mean[:, None])).sum(axis=1)
        slope = np.where(spread > 0, covariance / spread, np.nan)
    return slope, y_mean - slope * x_mean


def r2(observed: np.ndarray, residual: np.ndarray) -> float | None:
    total = float(np.sum((observed - observed.mean()) ** 2))
    return 1.0 - float(np.sum(residual**2)) / total if total > 0 else None
