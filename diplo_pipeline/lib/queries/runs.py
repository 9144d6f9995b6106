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

from diplo_pipeline.lib.queries.artifacts import artifact_sections
from diplo_pipeline.lib.queries.core import Answer, QueryError, RunRef, fetch, fetch_one, jsonable, unknown
from diplo_pipeline.lib.warehouse.analyses import analysis

# the CLI's name -> the column (`_runtime`: seconds since the run started, as WandB's x-axis of that name)
X_AXES = {"step": "step", "_step": "wandb_step", "timestamp": "timestamp", "_runtime": "runtime_s"}


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


def _config_pair(key: str, value: bool | float | str) -> dict:
    """A `--config` pair as cli/runs.sql matches it: run_config keeps numbers in `value` and strings and
    booleans (as 'true'/'false') in `value_text`."""
    if isinstance(value, bool):
        return {"key": key, "number": None, "text": "true" if value else "false"}
    if isinstance(value, int | float):
        return {"key": key, "number": value, "text": None}
    return {"key": key, "number": None, "text": value}


def list_runs(
    con: duckdb.DuckDBPyConnection,
    tags: Sequence[str] = (),
    state: str | None = None,
    config: Sequence[str] = (),
    limit: int = 50,
) -> Answer:
    """Newest first. A run matches when it has any of the tags (as wandb_cli's `$in`) and every config pair."""
    pairs = [_config_pair(*parse_config_filter(pair)) for pair in config]
    rows = fetch(con, "cli/runs", {"tags": list(tags), "state": state, "config": pairs, "limit": limit})
    return Answer.of_rows(rows)


def show_run(con: duckdb.DuckDBPyConnection, run: RunRef) -> Answer:
    record = fetch_one(con, "cli/run", {"run_id": run.run_id})
    config, summary = (json.loads(record.pop(name) or "{}") for name in ("config", "summary"))
    sections = {"run": record, "config": config, "summary": summary}
    rows = [
        {"section": section, "key": key, "value": value}
        for section, values in sections.items()
        for key, value in values.items()
    ]
    logged = artifact_sections(con, run)
    rows += [{"section": "artifacts", "key": f"{a['name']}:{a['version_or_digest']}", "value": a["type"]}
             for a in logged["artifacts"]]
    rows += [{"section": "tables", "key": f"{t['key']}@{t['step']}", "value": t["table_rows"]}
             for t in logged["tables"]]
    artifacts = [{name: a[name] for name in ("direction", "name", "type", "version_or_digest", "aliases",
                                              "size_bytes", "file_count", "local_path")} for a in logged["artifacts"]]
    tables = [{name: t[name] for name in ("key", "step", "table_rows", "table_columns")} for t in logged["tables"]]
    return Answer({**sections, "artifacts": artifacts, "tables": tables}, rows)


# --- metrics ------------------------------------------------------------------------------------------


def _latest_points(con: duckdb.DuckDBPyConnection, run_ids: Sequence[str], keys: Sequence[str] | None,
                   x_axis: str) -> list[dict]:
    """Each key's own points; a step a resumed run logged twice keeps its later write (as elo_ratings does).
    `x` is the point's place on the x-axis."""
    points = fetch(con, "cli/metric_points",
                   {"run_ids": list(run_ids), "keys": None if keys is None else list(keys), "x_axis": x_axis})
    for point in points:
        point["x"] = point[X_AXES[x_axis]]
    return points


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
    return [row["key"] for row in fetch(con, "cli/run_keys", {"run_ids": list(run_ids)})]


def _checked_keys(con: duckdb.DuckDBPyConnection, runs: Sequence[RunRef], keys: Sequence[str]) -> list[str]:
    """The keys, each logged by at least one of the runs."""
    known = set(_run_keys(con, [run.run_id for run in runs]))
    for key in keys:
        if key not in known:
            raise unknown("metric key", key, known, where=f"logged by {', '.join(run.run_name for run in runs)}")
    return list(dict.fromkeys(keys))


def metric_keys(con: duckdb.DuckDBPyConnection, run: RunRef) -> Answer:
    """What a run logged: every key with its number of points and step range."""
    rows = fetch(con, "cli/metric_keys", {"run_id": run.run_id})
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
    by_key: dict[str, dict[str, str]] = {}
    for row in fetch(con, "cli/config_values", {"run_ids": [run.run_id for run in runs]}):
        by_key.setdefault(row["key"], {})[row["run_id"]] = row["value"]
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
    run_rows = fetch(con, "cli/compared_runs", {"run_ids": run_ids})
    data = {"runs": run_rows, "comparison": comparison, "config_differences": _config_differences(con, runs)}
    rows = [{"metric": key, **row} for key, per_run in comparison.items() for row in per_run]
    return Answer(data, rows)


def _compared(run: RunRef, points: list[dict]) -> dict:
    stats = series_stats(points)
    return {"run_id": run.run_id, "run_name": run.run_name, "points": stats["points"], "final": stats["last"],
            "final_step": stats["last_step"], "max": stats["max"], "min": stats["min"], "mean": stats["mean"]}


# --- export -------------------------------------------------------------------------------------------


def export_run(con: duckdb.DuckDBPyConnection, run: RunRef, output: Path) -> Answer:
    """Write the run, its config, its summary and every metric point (both writes of a replayed step,
    with `write_seq`) to `output`: .json, or .parquet with the points as rows and the run, config, summary,
    artifacts and logged tables as JSON in the file's key-value metadata (DuckDB: `parquet_kv_metadata(path)`)."""
    suffix = output.suffix.lower()
    if suffix not in (".json", ".parquet"):
        raise QueryError(f"--output {output}: the file name must end in .json or .parquet")
    sections = show_run(con, run).data
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        write = _write_parquet if suffix == ".parquet" else _write_json
        points = write(con, run, sections, tmp)
        os.replace(tmp, output)  # a reader never sees half a file
    finally:
        tmp.unlink(missing_ok=True)
    summary = {"status": "ok", "run_id": run.run_id, "run_name": run.run_name, "output_path": str(output.resolve()),
               "file_size": output.stat().st_size, "metric_points": points}
    return Answer(summary, [summary])


def _write_json(con: duckdb.DuckDBPyConnection, run: RunRef, sections: dict, path: Path) -> int:
    points = fetch(con, "cli/run_points", {"run_id": run.run_id})
    # One write: json.dump would write per token.
    path.write_text(json.dumps(jsonable({**sections, "metric_points": points})))
    return len(points)


def _write_parquet(con: duckdb.DuckDBPyConnection, run: RunRef, sections: dict, path: Path) -> int:
    # The points query is the JSON export's, registered under the name the COPY reads (a read-only catalog
    # takes no view; a registered relation is the connection's own).
    con.register("exported_points", con.sql(analysis("cli/run_points"), params={"run_id": run.run_id}))
    metadata = {name: json.dumps(jsonable(value)) for name, value in sections.items()}
    try:
        return con.execute(analysis("cli/export_points_to_parquet"), {"path": str(path), **metadata}).fetchone()[0]
    finally:
        con.unregister("exported_points")
