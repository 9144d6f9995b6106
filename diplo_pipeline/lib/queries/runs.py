"""Runs and their metrics: what wandb_cli.py's list/search, get-run, get-metrics, compare and export did
(source-data.md §3.1), from the catalog, with every value at its own step."""

from __future__ import annotations

import json
import math
import os
import statistics
from collections.abc import Sequence
from pathlib import Path

import duckdb

from diplo_pipeline.lib.queries.core import (
    Answer,
    QueryError,
    RunRef,
    fetch,
    fetch_one,
    jsonable,
    placeholders,
    unknown,
)

LISTED_RUN_COLUMNS = "run_id, run_name, state, run_kind, created_at, runtime_s, last_step, tags, sweep_name"
X_AXES = {"step": "step", "_step": "wandb_step", "timestamp": "timestamp"}


# --- runs ---------------------------------------------------------------------------------------------


def parse_config_filter(text: str) -> tuple[str, bool | float | str]:
    """`key=value` with the value auto-cast like wandb_cli search: bool, then int, then float, else str."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise QueryError(f"--config {text!r}: expected key=value, e.g. --config learning_rate=1e-5")
    raw = raw.strip()
    if raw.lower() in ("true", "false"):
        return key.strip(), raw.lower() == "true"
    for cast in (int, float):
        try:
            return key.strip(), cast(raw)
        except ValueError:
            pass
    return key.strip(), raw


def _config_clause(index: int, key: str, value: bool | float | str, params: dict) -> str:
    # run_config keeps numbers in `value` and strings and booleans (as 'true'/'false') in `value_text`.
    params[f"ck{index}"] = key
    if isinstance(value, bool):
        params[f"cv{index}"] = "true" if value else "false"
        column = "value_text"
    else:
        params[f"cv{index}"] = value
        column = "value" if isinstance(value, int | float) else "value_text"
    return f"run_id in (select run_id from run_config where key = $ck{index} and {column} = $cv{index})"


def list_runs(
    con: duckdb.DuckDBPyConnection,
    tags: Sequence[str] = (),
    state: str | None = None,
    config: Sequence[str] = (),
    limit: int = 50,
) -> Answer:
    """Newest first. A run matches when it has any of the tags (as wandb_cli's `$in`) and every config pair."""
    clauses, params = ["true"], {"limit": limit}
    if tags:
        clauses.append("list_has_any(tags, $tags)")
        params["tags"] = list(tags)
    if state:
        clauses.append("state = $state")
        params["state"] = state
    for index, pair in enumerate(config):
        clauses.append(_config_clause(index, *parse_config_filter(pair), params))
    rows = fetch(
        con,
        f"select {LISTED_RUN_COLUMNS} from runs where {' and '.join(clauses)} "
        "order by created_at desc, run_id limit $limit",
        params,
    )
    return Answer.of_rows(rows)


def show_run(con: duckdb.DuckDBPyConnection, run: RunRef) -> Answer:
    record = fetch_one(con, "select * exclude (metric_definitions) from runs where run_id = $id", {"id": run.run_id})
    config, summary = (json.loads(record.pop(name) or "{}") for name in ("config", "summary"))
    sections = {"run": record, "config": config, "summary": summary}
    rows = [
        {"section": section, "key": key, "value": value}
        for section, values in sections.items()
        for key, value in values.items()
    ]
    return Answer(sections, rows)


# --- metrics ------------------------------------------------------------------------------------------


def _latest_points(con: duckdb.DuckDBPyConnection, run_ids: Sequence[str], keys: Sequence[str] | None,
                   x_axis: str) -> list[dict]:
    """Each key's own points; a step a resumed run logged twice keeps its later write (as elo_ratings does)."""
    params: dict = {}
    key_filter = f"and key in ({placeholders('k', keys, params)})" if keys is not None else ""
    return fetch(
        con,
        f"""
        select run_id, key, step, {X_AXES[x_axis]} as x, value, value_text
        from metric_points
        where run_id in ({placeholders('r', run_ids, params)}) {key_filter}
        qualify write_seq = max(write_seq) over (partition by run_id, row_kind, step, key)
        order by run_id, key, x, step
        """,
        params,
    )


def _point_value(point: dict):
    return point["value"] if point["value"] is not None else point["value_text"]


def series_stats(points: list[dict]) -> dict:
    """min/max/mean/std over the finite numbers of one series; `last` is its last point along the x-axis."""
    numbers = [p["value"] for p in points if p["value"] is not None and math.isfinite(p["value"])]
    return {
        "points": len(points),
        "first_step": min((p["step"] for p in points), default=None),
        "last_step": max((p["step"] for p in points), default=None),
        "min": min(numbers, default=None),
        "max": max(numbers, default=None),
        "mean": statistics.fmean(numbers) if numbers else None,
        "std": statistics.stdev(numbers) if len(numbers) > 1 else None,
        "last": _point_value(points[-1]) if points else None,
    }


def _run_keys(con: duckdb.DuckDBPyConnection, run_ids: Sequence[str]) -> list[str]:
    params: dict = {}
    found = con.execute(
        f"select distinct key from metric_points where run_id in ({placeholders('r', run_ids, params)}) order by key",
        params,
    )
    return [row[0] for row in found.fetchall()]


def _checked_keys(con: duckdb.DuckDBPyConnection, runs: Sequence[RunRef], keys: Sequence[str]) -> list[str]:
    """The keys, each logged by at least one of the runs."""
    known = set(_run_keys(con, [run.run_id for run in runs]))
    for key in keys:
        if key not in known:
            raise unknown("metric key", key, known, where=f"logged by {', '.join(run.run_name for run in runs)}")
    return list(dict.fromkeys(keys))


def metric_keys(con: duckdb.DuckDBPyConnection, run: RunRef) -> Answer:
    """What a run logged: every key with its number of points and step range."""
    rows = fetch(
        con,
        """
        with latest as (
            select key, step from metric_points where run_id = $id
            qualify write_seq = max(write_seq) over (partition by row_kind, step, key)
        )
        select key, count(*) as points, min(step) as first_step, max(step) as last_step
        from latest group by key order by key
        """,
        {"id": run.run_id},
    )
    return Answer({"run_id": run.run_id, "run_name": run.run_name, "keys": rows}, rows)


def _by_series(points: list[dict]) -> dict[tuple[str, str], list[dict]]:
    series: dict[tuple[str, str], list[dict]] = {}
    for point in points:
        series.setdefault((point["run_id"], point["key"]), []).append(point)
    return series


def _as_logged(point: dict, x_axis: str) -> dict:
    at = {"step": point["step"]} if x_axis == "step" else {"step": point["step"], x_axis: point["x"]}
    return {**at, "value": _point_value(point)}


def run_metrics(con: duckdb.DuckDBPyConnection, run: RunRef, keys: Sequence[str] | None,
                x_axis: str = "step") -> Answer:
    """Each key's points where that key was logged, with its stats (keys=None: every key of the run)."""
    checked = _checked_keys(con, [run], keys) if keys is not None else None
    points = _latest_points(con, [run.run_id], checked, x_axis)
    metrics = {
        key: {**series_stats(series), "values": [_as_logged(p, x_axis) for p in series]}
        for (_, key), series in _by_series(points).items()
    }
    data = {"run_id": run.run_id, "run_name": run.run_name, "x_axis": x_axis, "data_points": len(points),
            "metrics": metrics}
    rows = [{"key": p["key"], **_as_logged(p, x_axis)} for p in points]
    return Answer(data, rows)


def _config_differences(con: duckdb.DuckDBPyConnection, runs: Sequence[RunRef]) -> list[dict]:
    """The config keys whose values differ between the runs (or that only some of them set)."""
    params: dict = {}
    pairs = con.execute(
        f"""
        select run_id, key, coalesce(value::varchar, value_text)
        from run_config
        where run_id in ({placeholders('r', [r.run_id for r in runs], params)})
        order by key
        """,
        params,
    ).fetchall()
    by_key: dict[str, dict[str, str]] = {}
    for run_id, key, value in pairs:
        by_key.setdefault(key, {})[run_id] = value
    return [
        {"key": key, **{run.run_name: values.get(run.run_id) for run in runs}}
        for key, values in by_key.items()
        if len(values) < len(runs) or len(set(values.values())) > 1
    ]


def compare_runs(con: duckdb.DuckDBPyConnection, runs: Sequence[RunRef], keys: Sequence[str]) -> Answer:
    """Side by side per key: the final value and the max, min and mean over all logged steps."""
    runs = list(dict.fromkeys(runs))
    run_ids = [run.run_id for run in runs]
    checked = _checked_keys(con, runs, keys)
    series = _by_series(_latest_points(con, run_ids, checked, "step"))
    comparison = {
        key: [_compared(run, series.get((run.run_id, key), [])) for run in runs] for key in checked
    }
    params: dict = {}
    run_rows = fetch(
        con,
        f"select run_id, run_name, state, created_at, last_step from runs "
        f"where run_id in ({placeholders('r', run_ids, params)}) order by created_at",
        params,
    )
    data = {"runs": run_rows, "comparison": comparison, "config_differences": _config_differences(con, runs)}
    rows = [{"metric": key, **row} for key, per_run in comparison.items() for row in per_run]
    return Answer(data, rows)


def _compared(run: RunRef, points: list[dict]) -> dict:
    stats = series_stats(points)
    return {"run_id": run.run_id, "run_name": run.run_name, "points": stats["points"], "final": stats["last"],
            "final_step": stats["last_step"], "max": stats["max"], "min": stats["min"], "mean": stats["mean"]}


# --- export -------------------------------------------------------------------------------------------


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def export_run(con: duckdb.DuckDBPyConnection, run: RunRef, output: Path) -> Answer:
    """Write the run, its config, its summary and every metric point (both writes of a replayed step,
    with `write_seq`) to `output`: .json, or .parquet with the points as rows and the run, config and
    summary as JSON in the file's key-value metadata (DuckDB: `parquet_kv_metadata(path)`)."""
    suffix = output.suffix.lower()
    if suffix not in (".json", ".parquet"):
        raise QueryError(f"--output {output}: the file name must end in .json or .parquet")
    sections = show_run(con, run).data
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        points = _write_parquet(con, run, sections, tmp) if suffix == ".parquet" else _write_json(con, run, sections, tmp)
        os.replace(tmp, output)  # a reader never sees half a file
    finally:
        tmp.unlink(missing_ok=True)
    summary = {"status": "ok", "run_id": run.run_id, "run_name": run.run_name, "output_path": str(output.resolve()),
               "file_size": output.stat().st_size, "metric_points": points}
    return Answer(summary, [summary])


POINTS_OF_RUN = """
    select run_id, step, wandb_step, timestamp, runtime_s, key, value, value_text, row_kind, write_seq
    from metric_points where run_id = {run_id} order by step, key, write_seq
"""


def _write_json(con: duckdb.DuckDBPyConnection, run: RunRef, sections: dict, path: Path) -> int:
    points = fetch(con, POINTS_OF_RUN.format(run_id="$id"), {"id": run.run_id})
    path.write_text(json.dumps(jsonable({**sections, "metric_points": points})))  # one write: json.dump writes per token
    return len(points)


def _write_parquet(con: duckdb.DuckDBPyConnection, run: RunRef, sections: dict, path: Path) -> int:
    # COPY takes no prepared parameters: the run id (from the catalog) and the JSON go in as literals.
    metadata = ", ".join(f"{name}: {_sql_literal(json.dumps(jsonable(value)))}" for name, value in sections.items())
    query = POINTS_OF_RUN.format(run_id=_sql_literal(run.run_id))
    con.execute(f"copy ({query}) to {_sql_literal(str(path))} (format parquet, compression zstd, kv_metadata {{{metadata}}})")
    return con.execute(f"select count(*) from read_parquet({_sql_literal(str(path))})").fetchone()[0]
