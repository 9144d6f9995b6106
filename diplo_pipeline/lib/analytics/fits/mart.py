"""The `power_law_fits` mart (WAREHOUSE.md): every scope's fits as table rows, and what its asset and its
check show of them. The points and scopes are `scopes`; the fitting is the package itself."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa

from diplo_pipeline.lib.analytics.fits import MODELS, Fit
from diplo_pipeline.lib.analytics.fits.scope_cache import cached_fit_rows
from diplo_pipeline.lib.analytics.fits.scopes import (
    METRIC,
    X_METRIC,
    Scope,
    fit_scope,
    load_runs,
    load_series,
    scopes_of,
)
from diplo_pipeline.lib.lake.duck import duckdb_session, records
from diplo_pipeline.lib.warehouse.analyses import analysis
from diplo_pipeline.lib.warehouse.sql_runner import define_python_marts

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


def power_law_table(con: duckdb.DuckDBPyConnection, cache_path: Path | None = None) -> tuple[pa.Table, int]:
    """The mart from the warehouse on `con` (a connection with `metric_points` and `runs` defined), and how
    many scopes were fitted: with `cache_path`, only scopes whose points changed (scope_cache.py)."""
    series = load_series(con)
    scopes = scopes_of(series, load_runs(con))
    rows, fitted = cached_fit_rows(cache_path, scopes, series, lambda scope: fit_rows(scope, fit_scope(scope, series)))
    return pa.Table.from_pylist(rows, schema=SCHEMA), fitted


def flagged_fits_by_model(table: pa.Table) -> dict[str, int]:
    """How many fits of each model carry a flag."""
    rows = table.select(["model", "flags"]).to_pylist()
    return {model: sum(1 for row in rows if row["model"] == model and row["flags"]) for model in MODELS}


def flagged_group_fits(lake: Path) -> list[dict]:
    """The `power_law` fits of tags and sweeps that carry a flag, from the mart in `lake`."""
    with duckdb_session() as con:
        define_python_marts(con, lake)
        return records(con.sql(analysis("analytics/power_law_flagged_group_fits")))


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


