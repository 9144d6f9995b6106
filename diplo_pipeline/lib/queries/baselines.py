"""`diplo compare RUN --baseline`: a run against the baseline the warehouse picked for it (`run_baselines`),
each compared value with its change, the change's band where it has one, and whether it is significant and
for the worse (the rules: dbt_like_sql/marts/run_baselines.sql, the README's "Baselines")."""

from __future__ import annotations

import json
from collections.abc import Sequence

import duckdb

from diplo_pipeline.lib.queries.core import Answer, QueryError, RunRef, fetch_one, has_table
from diplo_pipeline.lib.queries.runs import compare_runs

# (column, what it is, whether a higher value is better)
COMPARED = (
    ("final_elo_gap", "final Elo gap (best checkpoint - base_model)", True),
    ("final_reward", "mean reward over the last steps", True),
    ("kl_max", "largest kl_max", False),
    ("trajectories_per_s", "mean trajectories per second", True),
    ("steps_to_target", "first step at the Elo-gap target", False),
)


def _changes(row: dict) -> list[dict]:
    changes = []
    for column, meaning, higher_is_better in COMPARED:
        change, significant = row[f"{column}_change"], row[f"{column}_significant"]
        if column == "steps_to_target":  # significant only when one of the two never reached the target
            worse = bool(significant) and row["steps_to_target"] is None
        elif column == "kl_max":  # significant only when exactly one is above the limit
            worse = bool(significant) and (row["kl_max"] or 0) > (row["baseline_kl_max"] or 0)
        else:
            worse = bool(significant) and change is not None and (change > 0) != higher_is_better
        changes.append({
            "metric": column, "meaning": meaning, "run": row[column], "baseline": row[f"baseline_{column}"],
            "change": change, "change_ci_low": row.get(f"{column}_change_ci_low"),
            "change_ci_high": row.get(f"{column}_change_ci_high"), "significant": significant,
            "worse": worse,
        })
    return changes


def baseline_comparison(con: duckdb.DuckDBPyConnection, run: RunRef, keys: Sequence[str] = ()) -> Answer:
    """The run against its run_baselines baseline; with `keys`, also `diplo compare`'s side-by-side of the
    two runs for those metric keys."""
    if not has_table(con, "run_baselines"):
        raise QueryError("no `run_baselines` table in the catalog yet: run `diplo build` to make it")
    row = fetch_one(con, "cli/run_baseline", {"run_id": run.run_id})
    if row is None:
        raise QueryError(
            f"{run.run_name} ({run.run_id}) has no baseline: only a training run with another training run on "
            "the same base_model_id has one. Compare it with a run you choose: diplo compare RUN OTHER -m KEY"
        )
    changes = _changes(row)
    data = {
        "run": {"run_id": row["run_id"], "run_name": row["run_name"]},
        "baseline": {"run_id": row["baseline_run_id"], "run_name": row["baseline_run_name"],
                     "selection": row["selection"], "differing_key_count": row["differing_key_count"]},
        "differing_keys": json.loads(row["differing_keys"]) if row["differing_keys"] else {},
        "target": row["target"],
        "changes": changes,
        "regressions": [c["metric"] for c in changes if c["worse"]],
    }
    if keys:
        side_by_side = compare_runs(con, [run, RunRef(row["baseline_run_id"], row["baseline_run_name"])], keys)
        data["comparison"] = side_by_side.data["comparison"]
    return Answer(data, changes)
