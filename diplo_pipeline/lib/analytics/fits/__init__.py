"""Scaling-law fits of a metric against compute (methods.md §3.1): plain numpy/scipy, no Dagster.

`fit_series` fits the three model forms of `models` (`power_law`, `offset_power_law`, `sigmoid`) to one
series of points (x = compute, > 0; y = the metric, any sign; the run of each point). The two non-linear
forms are minimised from a grid of starts and polished by L-BFGS-B, whose verdict is `converged`
(`optimiser`); `params["starts_agree"]` is true when at least two starts reached the best loss (within 1 %)
and agree on the exponent, i.e. the optimum is not an accident of one start. `uncertainty` gives the
bootstrap interval and the held-out error. `scopes` chooses the series of the `power_law_fits` mart.

Per fit (`Fit`, a row of `power_law_fits`):
- `exponent`: b (power_law), alpha (offset_power_law) or B (sigmoid); `exponent_ci_low`, `exponent_ci_high`:
  its 95 % percentile bootstrap interval.
- `r2`: the coefficient of determination in the space the model is fitted in: log y for power_law and for
  offset_power_law fitted in log space, y otherwise (`params["r2_space"]`).
- `n_points`: the points the model was fitted to; `x_decades`: log10(max x / min x) over them.
- `holdout_log_error`: the error on the largest-x points of a refit without them
  (`params["holdout_error_space"]`).
- `params` (JSON in the table): the model's parameters on the original scale (`a`, `b` | `e`, `a`, `alpha` |
  `r0`, `a`, `c_mid`, `b`) and how they were obtained: `fit_space`, `r2_space`, `huber_delta`, `starts`,
  `starts_at_best`, `starts_agree`, `loss` (mean Huber loss / δ at the optimum), `holdout_points`,
  `holdout_error_space`, `bootstrap_unit` (`run` or `point`), `bootstrap_refits` (finite refits the interval
  rests on), `bootstrap_converged` (of those, refits whose loss had stopped improving), `dropped_nonpositive`
  (points with y ≤ 0 the pure power law left out).
- `flags`: `few_points` (fewer than MIN_POINTS points, or than POINTS_PER_PARAM per parameter),
  `narrow_range` (x spans fewer than MIN_DECADES decades), `few_runs` (a group of 2 runs: its bootstrap has 3 distinct
  resamples), `exponent_ci_includes_zero`, `ci_unavailable`, `not_converged`, `starts_disagree`,
  `param_at_bound` (the optimum sits on a search bound, e.g. a sigmoid whose ceiling lies far beyond the
  data), `offset_negligible`, `dropped_nonpositive`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from diplo_pipeline.lib.analytics.fits.fit_types import Estimate, Fit, Model, Points
from diplo_pipeline.lib.analytics.fits.models import MODELS, models_for
from diplo_pipeline.lib.analytics.fits.uncertainty import bootstrap_ci, holdout_error

__all__ = ["MODELS", "Estimate", "Fit", "Model", "Points", "fit_model", "fit_series"]

# When a fit's numbers should not be quoted without a caveat (its flags): methods.md's minimums.
MIN_POINTS = 10
POINTS_PER_PARAM = 3
MIN_DECADES = 1.0
MIN_RUNS_FOR_CI = 3


def fit_series(x: Sequence[float], y: Sequence[float], groups: Sequence[Any] | None = None) -> list[Fit]:
    """Every model of MODELS fitted to one series; `groups` names the run of each point."""
    points = Points.of(x, y, groups)
    return [fit_model(model, points) for model in models_for(points)]


def fit_model(model: Model, points: Points) -> Fit:
    """One model on one series: its optimum, bootstrap interval, held-out error and quality flags."""
    usable = model.usable(points)
    params: dict[str, Any] = {}
    flags = []
    if usable.n < points.n:
        params["dropped_nonpositive"] = points.n - usable.n
        flags.append("dropped_nonpositive")
    best = model.estimate(usable) if usable.can_fit(model.n_params) else None
    if best is None:
        return _unfitted(model, usable, params, flags + ["few_points", "not_converged"])
    ci, bootstrap_notes = bootstrap_ci(model, usable, best)
    holdout, holdout_notes = holdout_error(model, usable)
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
        holdout_log_error=holdout,
        flags=flags + _quality_flags(model, usable, best, ci),
    )


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
