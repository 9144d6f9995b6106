"""The `findings` mart computed only for the runs whose inputs changed: a new run adds its own findings, and
every other run's rows are taken from the table the last build wrote.

The rules judge one run at a time (`find_all` loops over runs), so a run's findings follow from that run's
inputs alone, given the code and the limits. What each run's rows were computed from is kept in
`lake/_state/findings_runs.json` (run id -> fingerprint); the caller gives the fingerprints of now (the run's
partition files, its slice of any whole input table, the code and settings). A run whose fingerprint is
unchanged keeps its rows; the others are computed again, the union is ordered as `find_all` orders it, so the
table is byte for byte what computing every run would write. Deleting the state file recomputes every run.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from diplo_pipeline.lib.lake.io import LakePath, read_json, read_parquet, write_json_atomic


def cached_findings(
    fingerprints: dict[str, str],
    previous: LakePath,
    state: LakePath,
    compute: Callable[[list[str]], pl.DataFrame],
    order: Callable[[pl.DataFrame], pl.DataFrame],
) -> tuple[pl.DataFrame, list[str]]:
    """The findings of every run in `fingerprints` (run id -> its inputs now), and the runs computed again.

    `previous` is the table the last build wrote, `state` what its runs were computed from (`record` it once
    the table is written), `compute(run_ids)` the findings of those runs alone, `order` the mart's row order."""
    stored = read_json(state, {}) if previous.exists() else {}
    stale = sorted(run_id for run_id, fingerprint in fingerprints.items() if stored.get(run_id) != fingerprint)
    fresh = compute(stale) if stale else None
    kept_runs = sorted(set(fingerprints) - set(stale))
    if kept_runs:
        kept = pl.from_arrow(read_parquet(previous)).filter(pl.col("run_id").is_in(kept_runs))
        table = order(pl.concat([kept, fresh], how="vertical") if fresh is not None else kept)
    else:
        table = order(fresh) if fresh is not None else compute([])
    return table, stale


def record(fingerprints: dict[str, str], state: LakePath) -> None:
    """Keep what each run's rows were computed from: once the table holding them is written, not before."""
    if read_json(state, None) != fingerprints:
        write_json_atomic(fingerprints, state)
