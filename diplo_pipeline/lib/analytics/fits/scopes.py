"""Points and scopes of the `power_law_fits` mart (WAREHOUSE.md): reward against simulated compute.

The fitting is `diplo_pipeline/lib/analytics/fits/`; this module chooses the points and the scopes. x and y come from
the same logged row (never paired across rows), training rows only, and the later write of a re-logged step
wins. A scope is a run with at least MIN_RUN_POINTS such points, a tag or a sweep shared by at least
MIN_GROUP_RUNS of those runs, and the legacy power-law sweep as one group: runs tagged `power-laws-<variant>`
form the tag scope `power-laws` (source-data.md §3.5).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from diplo_pipeline.lib.analytics.fits import Fit, fit_series

X_METRIC = "power_law/cumulative_simulated_years"
METRIC = "power_law/reward_at_compute"
MIN_RUN_POINTS = 5
MIN_GROUP_RUNS = 2
TAG_FAMILIES = ("power-laws",)  # a tag family `F` gathers the runs tagged `F` or `F-<anything>`
SCOPE_ORDER = ("tag", "sweep", "run")  # the groups first: they are what the scaling question is about

# One point per (run, step): the row that logged both keys, the later write of a re-logged step winning.
# Compute is positive by definition; a zero or negative value is a logging artefact and has no logarithm.
POINTS_SQL = """
with train_rows as (
    select
        run_id,
        step,
        write_seq,
        max(value) filter (where key = $x_metric) as x,
        max(value) filter (where key = $metric) as y
    from metric_points
    where row_kind = 'train' and key in ($x_metric, $metric)
    group by run_id, step, write_seq
),

latest_pair as (
    select run_id, step, x, y
    from train_rows
    where x is not null and y is not null
    qualify row_number() over (partition by run_id, step order by write_seq desc) = 1
)

select run_id, x, y
from latest_pair
where x > 0
order by run_id, step
"""
RUNS_SQL = "select run_id, coalesce(tags, []) as tags, sweep_name from runs order by run_id"

SCHEMA = pa.schema(
    [
        ("scope", pa.string()),
        ("scope_id", pa.string()),
        ("x_metric", pa.string()),
        ("metric", pa.string()),
        ("model", pa.string()),
        ("params", pa.string()),  # JSON
        ("exponent", pa.float64()),
        ("exponent_ci_low", pa.float64()),
        ("exponent_ci_high", pa.float64()),
        ("r2", pa.float64()),
        ("n_points", pa.int64()),
        ("x_decades", pa.float64()),
        ("converged", pa.bool_()),
        ("holdout_log_error", pa.float64()),
        ("flags", pa.list_(pa.string())),
        # Beyond WAREHOUSE.md: which runs a fit pools, and the compute range it covers.
        ("n_runs", pa.int64()),
        ("run_ids", pa.list_(pa.string())),
        ("x_min", pa.float64()),
        ("x_max", pa.float64()),
    ]
)
PREVIEW_COLUMNS = ["scope", "scope_id", "model", "exponent", "exponent_ci_low", "exponent_ci_high", "r2",
                   "n_points", "x_decades", "flags"]

RunRow = tuple[str, list[str], str | None]  # run_id, tags, sweep_name (RUNS_SQL)


@dataclass(frozen=True)
class Scope:
    scope: str  # run | tag | sweep
    scope_id: str  # the run id, the tag, the sweep name
    run_ids: tuple[str, ...]


@dataclass(frozen=True)
class Series:
    x: np.ndarray
    y: np.ndarray


def load_series(con: duckdb.DuckDBPyConnection) -> dict[str, Series]:
    """The (compute, reward) points of every run that logged both keys."""
    rows = con.execute(POINTS_SQL, {"x_metric": X_METRIC, "metric": METRIC}).fetchall()
    by_run: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for run_id, x, y in rows:
        by_run[run_id].append((x, y))
    return {run_id: Series(*map(np.array, zip(*pairs, strict=True))) for run_id, pairs in by_run.items()}


def scopes_of(series: dict[str, Series], runs: Iterable[RunRow]) -> list[Scope]:
    """Runs with enough points, and the tags, tag families and sweeps that several of them share."""
    eligible = {run_id for run_id, s in series.items() if len(s.x) >= MIN_RUN_POINTS}
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    for run_id, tags, sweep_name in runs:
        if run_id not in eligible:
            continue
        for tag in tags:
            groups[("tag", tag)].add(run_id)
            for family in TAG_FAMILIES:
                if tag.startswith(f"{family}-"):
                    groups[("tag", family)].add(run_id)
        if sweep_name:
            groups[("sweep", sweep_name)].add(run_id)
    found = [Scope("run", run_id, (run_id,)) for run_id in eligible]
    found += [Scope(kind, name, tuple(sorted(members))) for (kind, name), members in groups.items()
              if len(members) >= MIN_GROUP_RUNS]
    return sorted(found, key=lambda s: (SCOPE_ORDER.index(s.scope), s.scope_id))


def fit_scope(scope: Scope, series: dict[str, Series]) -> list[Fit]:
    """Every model on the scope's pooled points; the run of each point lets the bootstrap resample runs."""
    members = [series[run_id] for run_id in scope.run_ids]
    x = np.concatenate([s.x for s in members])
    y = np.concatenate([s.y for s in members])
    groups = np.concatenate([np.full(len(s.x), i) for i, s in enumerate(members)])
    return fit_series(x, y, groups)


def fit_rows(scope: Scope, fits: list[Fit]) -> list[dict]:
    return [
        {
            "scope": scope.scope,
            "scope_id": scope.scope_id,
            "x_metric": X_METRIC,
            "metric": METRIC,
            "model": fit.model,
            "params": json.dumps(fit.params, sort_keys=True, allow_nan=False),
            "exponent": fit.exponent,
            "exponent_ci_low": fit.exponent_ci_low,
            "exponent_ci_high": fit.exponent_ci_high,
            "r2": fit.r2,
            "n_points": fit.n_points,
            "x_decades": fit.x_decades,
            "converged": fit.converged,
            "holdout_log_error": fit.holdout_log_error,
            "flags": fit.flags,
            "n_runs": fit.n_runs,
            "run_ids": list(scope.run_ids),
            "x_min": fit.x_min,
            "x_max": fit.x_max,
        }
        for fit in fits
    ]


def readable(rows: list[dict], columns: list[str] | None = None) -> list[dict]:
    """The rows (or the given columns of them) with numbers rounded for the Dagster UI."""
    return [{c: _rounded(row[c]) for c in columns or list(row)} for row in rows]


def _rounded(value):
    return round(value, 4) if isinstance(value, float) else value


