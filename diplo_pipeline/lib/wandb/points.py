"""History rows and key/value dicts → the lake's `metric_points`, `config` and `summary` tables.

Shared by the offline reader and the live API source. Every value is kept: numbers in `value`, the rest as
text in `value_text`. The per-row columns (step, timestamps, runtime) take only what their types can
hold; a number no BIGINT or timestamp can hold leaves the column NULL (or the step to the next key by
authority) instead of failing the whole run in Arrow.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from diplo_pipeline.lib.wandb.schemas import KV_SCHEMA, METRIC_POINTS_SCHEMA, TS
from diplo_pipeline.lib.wandb.values import as_int64, epoch_seconds, finite_number

# The training step of a row, by authority (source-data.md §1.4; legacy runs logged `step`).
STEP_KEYS = ("benchmark/step", "benchmark/evaluation_step", "elo/evaluation_step", "step")
TRAIN_STEP_KEYS = ("benchmark/step", "step")


def split_value(value: Any) -> tuple[float | None, str | None]:
    """(value, value_text) per WAREHOUSE.md: numbers in `value`; strings, booleans, media in text."""
    if isinstance(value, bool):
        return None, "true" if value else "false"
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float range: kept exactly, as its digits
            return None, str(value)
        if math.isfinite(number):
            return number, None
        return number, json.dumps(number)  # NaN / Infinity / -Infinity, searchable as text too
    if value is None:
        return None, None
    if isinstance(value, str):
        return None, value
    return None, json.dumps(value, sort_keys=True, allow_nan=True)


def row_step(row: dict[str, Any]) -> tuple[int, str]:
    """The training step of a history row and what kind of row it is."""
    for key in STEP_KEYS:
        number = as_int64(row.get(key))
        if number is not None:
            kind = "train" if key in TRAIN_STEP_KEYS else "eval"
            return number, kind
    kind = "final" if ("benchmark/complete" in row or "training_complete" in row) else "other"
    return as_int64(row.get("_step")) or 0, kind


def _value_columns(values: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """`value` and `value_text` of each value, as `split_value` splits them: the numbers (floats, and integers
    a float can hold) in one conversion, the rest (text, booleans, NaN, media, huge integers) one by one."""
    count = len(values)
    types = np.fromiter(map(type, values), dtype=object, count=count)
    is_float, is_int = types == float, types == int  # noqa: E721 - elementwise, over a numpy array of types
    numbers = np.zeros(count, np.float64)
    numbers[is_float] = values[is_float].astype(np.float64)
    try:
        numbers[is_int] = values[is_int].astype(np.float64)  # as float(value): correctly rounded
        plain = is_int
    except OverflowError:  # an integer beyond float range somewhere: the integers go one by one
        plain = np.zeros(count, bool)
    plain = plain | (is_float & np.isfinite(numbers))
    valid = plain.copy()
    texts: list[str | None] = [None] * count
    for index in np.flatnonzero(~plain).tolist():
        number, texts[index] = split_value(values[index])
        if number is not None:
            numbers[index], valid[index] = number, True
    return pa.array(numbers, pa.float64(), mask=~valid), pa.array(texts, pa.string())


def history_points(run_id: str, segments: list[Iterable[dict[str, Any]]], first_seq: int) -> tuple[pa.Table, int]:
    """History rows (one iterable per segment of the run), long format. Returns the table and the row count."""
    # Per-row facts are kept once per row and spread to the values with one vectorised `take`; the keys and
    # values of all rows are gathered with one `extend` per row and typed per column (`_value_columns`).
    per_row: dict[str, list] = {"step": [], "wandb_step": [], "timestamp": [], "runtime_s": [], "row_kind": [],
                                "segment": []}
    keys: list[str] = []
    values: list[Any] = []
    sizes: list[int] = []
    for segment, rows in enumerate(segments):
        for row in rows:
            step, kind = row_step(row)
            ts = epoch_seconds(row.get("_timestamp"))
            per_row["step"].append(step)
            per_row["wandb_step"].append(as_int64(row.get("_step")))
            per_row["timestamp"].append(None if ts is None else int(ts * 1_000_000))
            per_row["runtime_s"].append(finite_number(row.get("_runtime")))
            per_row["row_kind"].append(kind)
            per_row["segment"].append(segment)
            keys.extend(row)
            values.extend(row.values())
            sizes.append(len(row))
    seq = len(sizes)
    key_array = pa.array(keys, pa.string())
    # _step, _timestamp, _runtime and other SDK bookkeeping are per-row facts, not points.
    keep = pc.invert(pc.starts_with(key_array, pattern="_")).to_numpy(zero_copy_only=False)
    row_of_value = np.repeat(np.arange(seq, dtype=np.int64), sizes)[keep]
    kept = np.fromiter(values, dtype=object, count=len(values))[keep]
    value, value_text = _value_columns(kept)
    take = pa.array(row_of_value, pa.int64())
    columns = {name: pa.array(values, METRIC_POINTS_SCHEMA.field(name).type if name != "timestamp" else pa.int64())
               for name, values in per_row.items()}
    columns["timestamp"] = columns["timestamp"].cast(TS)
    table = pa.table(
        {
            "run_id": pa.repeat(pa.scalar(run_id, pa.string()), len(take)),
            "step": columns["step"].take(take),
            "wandb_step": columns["wandb_step"].take(take),
            "timestamp": columns["timestamp"].take(take),
            "runtime_s": columns["runtime_s"].take(take),
            "key": key_array.filter(pa.array(keep)),
            "value": value,
            "value_text": value_text,
            "row_kind": columns["row_kind"].take(take),
            "write_seq": pc.add(take, first_seq),
            "segment": columns["segment"].take(take),
        },
        schema=METRIC_POINTS_SCHEMA,
    )
    return table, seq


def step_facts(points: pa.Table) -> tuple[int | None, int, float | None]:
    """(last step, training steps logged, last timestamp) of a run's metric points."""
    train = points.filter(pc.equal(points["row_kind"], "train"))
    steps = train["step"] if train.num_rows else points["step"]
    last_step = pc.max(steps).as_py() if len(steps) else None
    last_ts = pc.max(points["timestamp"]).as_py() if points.num_rows else None
    return last_step, len(pc.unique(train["step"])), last_ts.timestamp() if last_ts else None


def kv_table(run_id: str, values: dict[str, Any]) -> pa.Table:
    cols: dict[str, list] = {name: [] for name in KV_SCHEMA.names}
    for key, value in sorted(values.items()):
        number, text = split_value(value)
        cols["run_id"].append(run_id)
        cols["key"].append(key)
        cols["value"].append(number)
        cols["value_text"].append(text)
    return pa.table(cols, schema=KV_SCHEMA)
