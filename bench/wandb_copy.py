"""Copies of SDK-written `.wandb` runs under new run ids, and one more step appended to a run: the scaling
workload (bench/scaling.py) holds hundreds of runs, which the real SDK is too slow to write one by one.

The writer produces exactly the framing `diplo_pipeline.lib.wandb.log_format` reads (the LevelDB log of
wandb-core's `leveldb.Writer`): the 7-byte `:W&B` header, then 32 KiB blocks of chunks
`<crc32:u32><length:u16><type:u8><data>` (FULL, or FIRST, MIDDLE…, LAST when a record crosses a block),
the CRC over the type byte then the data, and zero padding where fewer than 7 bytes are left in a block.
wandb 0.31 ships no Python writer of its own (the legacy `datastore.DataStore` is gone with wandb-core).

A copy decodes every record of the original (a protobuf `wandb_internal.Record`), gives it the new run id
and run name wherever they appear (the run record, `_info.stream_id`, league keys such as
`elo/<run name>_adapter_v10`, the config's `run_name`), sets the copy's tags and config overrides on its run
record, and frames the records again with fresh CRCs.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.descriptor import FieldDescriptor
from wandb.proto import wandb_internal_pb2 as pb

from diplo_pipeline.lib.wandb.log_format import (
    BLOCK_SIZE,
    CHUNK_HEADER,
    FILE_HEADER,
    FIRST,
    FULL,
    HEADER_LEN,
    LAST,
    MIDDLE,
    ReadStats,
    iter_raw_records,
)
from diplo_pipeline.lib.wandb.values import item_path


def frame_records(payloads: Iterable[bytes], offset: int = HEADER_LEN) -> bytes:
    """The chunks of `payloads` as written at byte `offset` of a file (a record boundary, past the header)."""
    out = bytearray()
    for data in payloads:
        first = True
        while True:
            left = BLOCK_SIZE - (offset + len(out)) % BLOCK_SIZE
            if left < CHUNK_HEADER:  # the block trailer
                out += b"\x00" * left
                continue
            chunk, data = data[: left - CHUNK_HEADER], data[left - CHUNK_HEADER :]
            kind = (FULL if not data else FIRST) if first else (LAST if not data else MIDDLE)
            crc = zlib.crc32(chunk, zlib.crc32(bytes([kind])))
            out += struct.pack("<IHB", crc, len(chunk), kind) + chunk
            first = False
            if not data:
                break
    return bytes(out)


def write_log(path: Path, payloads: Iterable[bytes]) -> Path:
    """A whole `.wandb` file of these record payloads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(FILE_HEADER + frame_records(payloads))
    return path


def append_records(path: Path, payloads: Iterable[bytes]) -> None:
    """More records at the end of an existing file (one that ends at a record boundary), as a live writer adds them."""
    with path.open("r+b") as handle:
        end = handle.seek(0, os.SEEK_END)
        handle.write(frame_records(payloads, end))


def read_records(path: Path) -> list[pb.Record]:
    """Every record of an intact file; raises on damage (a copy must not carry it along silently)."""
    stats = ReadStats()
    raws = list(iter_raw_records(path.read_bytes(), stats))
    if stats.damage:
        raise ValueError(f"{path} is damaged: {stats.damage[0].reason()}")
    out = []
    for raw in raws:
        record = pb.Record()
        record.ParseFromString(raw)
        out.append(record)
    return out


def _replace_strings(message, old: Mapping[str, str]) -> None:
    """Replace each key of `old` by its value in every string of `message` (fields, lists, map values), recursively."""

    def swap(text: str) -> str:
        for before, after in old.items():
            text = text.replace(before, after)
        return text

    for field, value in message.ListFields():
        if field.type == FieldDescriptor.TYPE_STRING:
            if field.is_repeated:
                value[:] = [swap(text) for text in value]
            else:
                setattr(message, field.name, swap(value))
        elif field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            for key in list(value):
                if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                    _replace_strings(value[key], old)
                elif value_field.type == FieldDescriptor.TYPE_STRING:
                    value[key] = swap(value[key])
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            for entry in value if field.is_repeated else [value]:
                _replace_strings(entry, old)


@dataclass(frozen=True)
class CopySpec:
    """What a copy of a run changes: its id, its name, its tags, config values (JSON-able) and whether it is
    still running (the original's exit record left out)."""

    run_id: str
    name: str
    tags: tuple[str, ...] = ()
    config: Mapping[str, object] | None = None
    running: bool = False


def copy_run(source: Path, root: Path, spec: CopySpec, folder_stamp: str) -> Path:
    """`source` as run `spec.run_id`, at `root/offline-run-<folder_stamp>-<id>/run-<id>.wandb` (the SDK's layout).

    A running copy stops after the original's last full training row (see `_last_full_row`): no history rows
    after it (the evaluation and final rows of a finished run) and no exit record. The copy keeps the
    original's modification time (a finished run looks idle since its last record), except a running copy,
    which is written now.
    """
    records = read_records(source)
    run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
    names = {run.run_id: spec.run_id, run.display_name: spec.name}
    last_row = _last_full_row(records) if spec.running else len(records)
    payloads = []
    for index, record in enumerate(records):
        kind = record.WhichOneof("record_type")
        if spec.running and (kind == "exit" or (kind == "history" and index > last_row)):
            continue  # a trainer still training: no exit record, nor the final rows logged at its end
        _replace_strings(record, names)
        if kind == "run":
            _set_run(record.run, spec)
        payloads.append(record.SerializeToString())
    target = root / f"offline-run-{folder_stamp}-{spec.run_id}" / f"run-{spec.run_id}.wandb"
    write_log(target, payloads)
    if not spec.running:
        stat = source.stat()
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return target


def _set_run(run, spec: CopySpec) -> None:
    run.run_id, run.display_name = spec.run_id, spec.name
    del run.tags[:]
    run.tags.extend(spec.tags)
    overrides = dict(spec.config or {})
    for item in run.config.update:
        key = ".".join(item_path(item))
        if key in overrides:
            item.value_json = json.dumps(overrides.pop(key))
    for key, value in overrides.items():
        item = run.config.update.add()
        item.key, item.value_json = key, json.dumps(value)


def _item(record: pb.Record, key: str):
    return next((item for item in record.history.item if item_path(item) == [key]), None)


def _last_full_row(records: list[pb.Record]) -> int:
    """Index of the last full training row: the last history row with at least half the items of the widest one
    (an evaluation row or a run's final row holds far fewer)."""
    rows = [i for i, r in enumerate(records) if r.WhichOneof("record_type") == "history" and _item(r, "_step")]
    if not rows:
        raise ValueError("no history row with a _step")
    widest = max(len(records[i].history.item) for i in rows)
    return next(i for i in reversed(rows) if 2 * len(records[i].history.item) >= widest)


def append_step(path: Path, step_seconds: float = 180.0) -> int:
    """One more training step at the end of a run that is still being written: a copy of its last full training
    row (`_last_full_row`) at the step after the last one logged, `step_seconds` after the last row. Returns
    that step."""
    records = read_records(path)
    history = [r for r in records if r.WhichOneof("record_type") == "history" and _item(r, "_step")]
    row = pb.Record()
    row.CopyFrom(records[_last_full_row(records)])
    step = max(int(json.loads(_item(r, "_step").value_json)) for r in history) + 1
    last_time = max(float(json.loads(_item(r, "_timestamp").value_json)) for r in history if _item(r, "_timestamp"))
    for key, value in (("_step", step), ("benchmark/step", step), ("_timestamp", last_time + step_seconds)):
        if (item := _item(row, key)) is not None:
            item.value_json = json.dumps(value)
    if (item := _item(row, "_runtime")) is not None:
        item.value_json = json.dumps(float(json.loads(item.value_json)) + step_seconds)
    row.history.step.num = step
    row.num = max(r.num for r in records) + 1
    append_records(path, [row.SerializeToString()])
    return step
