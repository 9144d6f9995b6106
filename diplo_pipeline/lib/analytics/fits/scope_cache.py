"""The fits of each scope kept with what they were fitted from, so a build re-fits only scopes whose points
changed: a new run adds its own run scope and changes the groups it joins; every other scope's bootstrap
(the costly part of the mart) is not run again.

A scope's inputs are its runs' points (x and y, exactly as fitted, in order) and the fitting code itself
(every module of this package and the SQL that selects the points). The cache is one JSON file,
`lake/_state/power_law_fits.json`, rewritten whole with the scopes of the current build only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

from diplo_pipeline.lib.analytics.fits.scopes import Scope, Series
from diplo_pipeline.lib.lake.io import read_json, write_text_atomic
from diplo_pipeline.lib.warehouse.analyses import ANALYSES

FITS_PACKAGE = Path(__file__).resolve().parent
FITTING_SQL = ("analytics/power_law_points.sql", "analytics/power_law_runs.sql")


@cache
def _code_digest() -> str:
    digest = hashlib.sha256()
    for path in [*sorted(FITS_PACKAGE.glob("*.py")), *(ANALYSES / name for name in FITTING_SQL)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def scope_digest(scope: Scope, series: dict[str, Series]) -> str:
    digest = hashlib.sha256(f"{_code_digest()}\0{scope.scope}\0{scope.scope_id}".encode())
    for run_id in scope.run_ids:
        digest.update(run_id.encode() + b"\0")
        digest.update(series[run_id].x.tobytes() + b"\0" + series[run_id].y.tobytes())
    return digest.hexdigest()


def cached_fit_rows(
    cache_path: Path | None,
    scopes: list[Scope],
    series: dict[str, Series],
    fit: Callable[[Scope], list[dict]],
) -> tuple[list[dict], int]:
    """Every scope's rows (from the cache where its inputs are unchanged, else `fit(scope)`), and how many
    scopes were fitted. Without `cache_path`, every scope is fitted."""
    stored = read_json(cache_path, {}) if cache_path else {}
    kept, rows, fitted = {}, [], 0
    for scope in scopes:
        key = f"{scope.scope}\0{scope.scope_id}"
        digest = scope_digest(scope, series)
        entry = stored.get(key)
        if entry is None or entry["inputs"] != digest:
            entry, fitted = {"inputs": digest, "rows": fit(scope)}, fitted + 1
        kept[key] = entry
        rows += entry["rows"]
    if cache_path is not None:
        write_text_atomic(json.dumps(kept, sort_keys=True), cache_path)
    return rows, fitted
