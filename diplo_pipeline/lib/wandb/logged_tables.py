"""Media a run logged (W&B Tables, HTML replays, images) → the raw lake tables `media` and `tables`.

A logged media object is a reference in the history row (`{"_type": "table-file", "path":
"media/table/eval/summary_table_1_<sha>.table.json", …}`, kept whole in `metric_points.value_text`); the
content is a file in the run's `files/` folder offline, or a run file on WandB's storage live. Both sources
read the references from the run's metric points (so a run read incrementally still has the references
of its earlier rows) and hand over a `load` function for the content.

A table file that is missing, truncated or not a W&B table is quarantined with its reason and the run's
other tables go in; a row whose width does not match the columns is set aside on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from diplo_pipeline.lib.lake.quarantine import QuarantinedItem
from diplo_pipeline.lib.wandb.schemas import MEDIA_SCHEMA, TABLE_COLUMNS, TABLES_SCHEMA
from diplo_pipeline.lib.wandb.values import as_int64

TABLE_FILE = "table-file"


@dataclass(frozen=True)
class MediaRef:
    key: str
    step: int
    wandb_step: int | None
    segment: int
    media_type: str
    path: str
    sha256: str | None
    size_bytes: int | None


def media_refs(points: pa.Table) -> list[MediaRef]:
    """Every media file referenced in the run's history, the last write of each (key, step)."""
    texts = points["value_text"]
    mask = pc.fill_null(pc.match_substring(texts, '"_type"'), False)
    candidates = points.filter(mask).select(["key", "step", "wandb_step", "segment", "write_seq", "value_text"])
    latest: dict[tuple[str, int], tuple[int, MediaRef]] = {}
    for row in candidates.to_pylist():
        try:
            value = json.loads(row["value_text"])
        except ValueError:
            continue
        if not isinstance(value, dict) or not isinstance(value.get("path"), str) or not value.get("_type"):
            continue
        # A hash that is not text is no hash (the reference stays whole in metric_points.value_text)
        sha256 = value.get("sha256") if isinstance(value.get("sha256"), str) else None
        ref = MediaRef(row["key"], row["step"], row["wandb_step"], row["segment"], str(value["_type"]),
                       value["path"], sha256, as_int64(value.get("size")))
        seen = latest.get((ref.key, ref.step))
        if seen is None or row["write_seq"] > seen[0]:
            latest[(ref.key, ref.step)] = (row["write_seq"], ref)
    return sorted((ref for _, ref in latest.values()), key=lambda r: (r.step, r.key))


def media_table(run_id: str, refs: list[MediaRef], locate: Callable[[MediaRef], str | None]) -> pa.Table:
    rows = [{"run_id": run_id, "key": r.key, "step": r.step, "wandb_step": r.wandb_step, "media_type": r.media_type,
             "path": r.path, "sha256": r.sha256, "size_bytes": r.size_bytes, "local_path": locate(r),
             "segment": r.segment} for r in refs]
    return pa.Table.from_pylist(rows, schema=MEDIA_SCHEMA)


def _typed(value: Any, kind: pa.DataType) -> tuple[Any, bool]:
    """(the value as the column's type, whether it fit). None stays None."""
    if value is None:
        return None, True
    if kind == pa.string():
        return (value, True) if isinstance(value, str) else (json.dumps(value), True)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, False
    if kind == pa.int64():
        number = as_int64(value)
        return (number, True) if number is not None and number == value else (None, False)
    return float(value), True


def _plain_json(value: Any) -> Any:
    """JSON DuckDB can read: NaN and ±Infinity (which Python's JSON writes bare) become the strings WandB shows."""
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return str(value).replace("nan", "NaN").replace("inf", "Infinity")
    if isinstance(value, dict):
        return {k: _plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_json(v) for v in value]
    return value


def _table_rows(run_id: str, ref: MediaRef, text: bytes, where: str) -> tuple[list[dict], list[QuarantinedItem]]:
    """The rows of one table file, or nothing and the reason."""
    def bad(reason: str, raw: str | None = None) -> tuple[list[dict], list[QuarantinedItem]]:
        return [], [QuarantinedItem(where, None, f"the W&B Table {ref.key!r} logged at step {ref.step} "
                                    f"({ref.path}) {reason}; its rows were left out and the run's other "
                                    "tables kept. Copy the run folder again from where it was written and "
                                    "build again.", raw)]
    try:
        table = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        return bad(f"is not valid JSON ({exc}: truncated or damaged)", text[:200].decode("utf-8", "replace"))
    columns, data = (table.get("columns"), table.get("data")) if isinstance(table, dict) else (None, None)
    if not isinstance(columns, list) or not isinstance(data, list) or not all(isinstance(c, str) for c in columns):
        return bad("is not a W&B Table (no 'columns' list of names and 'data' list of rows)",
                   text[:200].decode("utf-8", "replace"))
    rows: list[dict] = []
    quarantined: list[QuarantinedItem] = []
    for index, cells in enumerate(data):
        if not isinstance(cells, list) or len(cells) != len(columns):
            quarantined.append(QuarantinedItem(where, index + 1, (
                f"row {index} of the W&B Table {ref.key!r} at step {ref.step} has "
                f"{len(cells) if isinstance(cells, list) else 'no'} cells for {len(columns)} columns; it was "
                "left out and the table's other rows kept"), json.dumps(cells, default=str)))
            continue
        record = dict(zip(columns, cells, strict=True))
        row = {"run_id": run_id, "key": ref.key, "step": ref.step, "wandb_step": ref.wandb_step, "row_index": index,
               "row": json.dumps(_plain_json(record)), "table_path": ref.path, "segment": ref.segment}
        for name, kind in TABLE_COLUMNS.items():
            row[name], fits = _typed(record.get(name), kind)
            if not fits:
                quarantined.append(QuarantinedItem(where, index + 1, (
                    f"column {name!r} of row {index} of the W&B Table {ref.key!r} at step {ref.step} is "
                    f"{record.get(name)!r}, not a {kind}; the column is NULL for that row (the row's JSON keeps "
                    "the value)"), json.dumps(record, default=str)))
        rows.append(row)
    return rows, quarantined


def tables_table(run_id: str, refs: list[MediaRef], load: Callable[[MediaRef], tuple[bytes | None, str]]
                 ) -> tuple[pa.Table, list[QuarantinedItem]]:
    """Every row of every W&B Table the run logged. `load` gives a reference's content (None when it cannot
    be found) and the place it was looked for."""
    rows: list[dict] = []
    quarantined: list[QuarantinedItem] = []
    for ref in refs:
        if ref.media_type != TABLE_FILE:
            continue
        text, where = load(ref)
        if text is None:
            quarantined.append(QuarantinedItem(where, None, (
                f"the W&B Table {ref.key!r} logged at step {ref.step} is not at {where}; its rows were left out. "
                "Copy the run's files/ folder with its .wandb file and build again.")))
            continue
        got, bad = _table_rows(run_id, ref, text, where)
        rows.extend(got)
        quarantined.extend(bad)
    return pa.Table.from_pylist(rows, schema=TABLES_SCHEMA), quarantined
