"""How far to trust a fit: a bootstrap interval of its exponent, and its error on the largest compute when
fitted without it (methods.md §3.1).

- Bootstrap: 95 % percentile interval over BOOTSTRAP_RESAMPLES resamples with a fixed seed. Whole runs are
  resampled when the points come from several runs, single points otherwise. Each resample is refitted
  from the best fit by the model (Levenberg–Marquardt on the same Huber loss, all resamples at once).
- Holdout: refit on all but the largest-x HOLDOUT_FRACTION, predict those: mean |log ŷ − log y|, or mean
  |ŷ − y| when a held-out value or prediction is ≤ 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diplo_pipeline.lib.analytics.fits.fit_types import Estimate, Model, Points

BOOTSTRAP_RESAMPLES = 200
CI_PERCENTILES = (2.5, 97.5)
MIN_BOOTSTRAP_SHARE = 0.5  # fewer finite refits than this and no interval is reported
HOLDOUT_FRACTION = 0.2
SEED = 20251205


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


def bootstrap_ci(model: Model, points: Points, best: Estimate) -> tuple[tuple[float, float] | None, dict]:
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


def holdout_error(model: Model, points: Points) -> tuple[float | None, dict[str, Any]]:
    """Fit on all but the largest-x share, predict that share (leave-largest-out, methods.md)."""
    cutoff = np.quantile(points.x, 1 - HOLDOUT_FRACTION)
    train, test = points.subset(points.x <= cutoff), points.subset(points.x > cutoff)
    estimate = model.estimate(train) if test.n and train.can_fit(model.n_params) else None
    if estimate is None:
        return None, {}
    predicted = estimate.predict(test.x)
    if np.all(test.y > 0) and np.all(predicted > 0):
        error, space = np.mean(np.abs(np.log(predicted) - np.log(test.y))), "log"
    else:
        error, space = np.mean(np.abs(predicted - test.y)), "linear"
    return float(error), {"holdout_points": test.n, "holdout_error_space": space}
