"""Points and scopes of the `power_law_fits` mart (WAREHOUSE.md): reward against simulated compute.

The fitting is `diplo_pipeline/lib/analytics/fits/`; this module chooses the points and the scopes. x and y
come from the same logged row (never paired across rows), training rows only, and the later write of a
re-logged step wins (`dbt_like_sql/analyses/analytics/power_law_points.sql`). A scope is a run with at least
MIN_RUN_POINTS such points, a tag or a sweep shared by at least MIN_GROUP_RUNS of those runs, and the legacy
power-law sweep as one group: runs tagged `power-laws-<variant>` form the tag scope `power-laws`
(source-data.md §3.5).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import numpy as np

from diplo_pipeline.lib.analytics.fits import Fit, fit_series
from diplo_pipeline.lib.warehouse.analyses import analysis

X_METRIC = "power_law/cumulative_simulated_years"
METRIC = "power_law/reward_at_compute"
MIN_RUN_POINTS = 5
MIN_GROUP_RUNS = 2
TAG_FAMILIES = ("power-laws",)  # a tag family `F` gathers the runs tagged `F` or `F-<anything>`
SCOPE_ORDER = ("tag", "sweep", "run")  # the groups first: they are what the scaling question is about

RunRow = tuple[str, list[str], str | None]  # run_id, tags, sweep_name (analyses/analytics/power_law_runs.sql)


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
    parameters = {"x_metric": X_METRIC, "metric": METRIC}
    rows = con.execute(analysis("analytics/power_law_points"), parameters).fetchall()
    by_run: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for run_id, _step, x, y in rows:
        by_run[run_id].append((x, y))
    return {run_id: Series(*map(np.array, zip(*pairs, strict=True))) for run_id, pairs in by_run.items()}


def load_runs(con: duckdb.DuckDBPyConnection) -> list[RunRow]:
    """Every run with its tags and sweep, the groups `scopes_of` may form."""
    return con.execute(analysis("analytics/power_law_runs")).fetchall()


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
