"""Reader for WandB's `.wandb` transaction log (source-formats.md §A).

The file is a LevelDB-style log: a 7-byte file header, then 32 KiB blocks of chunks, each chunk
`<crc32:u32><length:u16><type:u8><data>`; chunks of type FIRST/MIDDLE/LAST assemble one record. Every
record is a serialized `wandb_internal.Record` protobuf, parsed with the SDK's own definitions.

The reader never raises on damaged data once the header is valid: a truncated or zero-filled tail ends the
scan and is reported in `ReadStats`, a record whose CRC does not match is skipped and counted, and
everything readable before and after it is kept.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2 as pb

FILE_HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
BLOCK_SIZE = 32 * 1024
CHUNK_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
# The CRC covers the type byte then the data (IEEE polynomial, as wandb-core's CRCAlgoIEEE).
_CRC_SEED = {t: zlib.crc32(bytes([t])) for t in (FULL, FIRST, MIDDLE, LAST)}


class NotAWandbFile(ValueError):
    """The file does not start with the W&B transaction-log header."""


@dataclass
class ReadStats:
    records: int = 0
    corrupt_records: int = 0  # CRC mismatch or impossible chunk: skipped
    unparseable_records: int = 0  # framing fine, protobuf not
    tail: str = "clean"  # clean | zero_filled | truncated
    end_offset: int = len(b":W&B") + 3  # just past the last complete record: where a later read resumes
    problems: list[str] = field(default_factory=list)  # human-readable, with byte offsets

    def note(self, message: str) -> None:
        if len(self.problems) < 50:  # a badly damaged file should not produce megabytes of notes
            self.problems.append(message)


def iter_raw_records(buf: bytes, stats: ReadStats, start: int | None = None) -> Iterator[bytes]:
    """Yield the payload of every intact record from `start` (a record boundary); record damage in `stats`."""
    if buf[: len(FILE_HEADER)] != FILE_HEADER:
        raise NotAWandbFile("missing the ':W&B' header: not a WandB transaction log")
    pos, parts, size = start or len(FILE_HEADER), None, len(buf)
    stats.end_offset = pos
    while pos < size:
        left = BLOCK_SIZE - pos % BLOCK_SIZE
        if left < CHUNK_HEADER:  # block trailer padding
            pos += left
            continue
        if pos + CHUNK_HEADER > size:
            stats.tail = "truncated"
            stats.note(f"file ends inside a chunk header at byte {pos}")
            return
        crc, length, kind = struct.unpack_from("<IHB", buf, pos)
        if kind == 0:
            if crc == 0 and length == 0 and not any(buf[pos : min(size, pos + left)]):
                # Zeros to the end of the block: the writer pre-allocates whole blocks (live or killed run).
                if not any(buf[pos:]):
                    stats.tail = "zero_filled"
                    return
                pos += left
                continue
            stats.corrupt_records += 1
            stats.note(f"chunk of unknown type 0 at byte {pos}; skipped to the next block")
            parts = None
            pos += left
            continue
        end = pos + CHUNK_HEADER + length
        if kind > LAST or end > pos + left:
            stats.corrupt_records += 1
            stats.note(f"impossible chunk (type {kind}, length {length}) at byte {pos}; skipped to next block")
            parts = None
            pos += left
            continue
        if end > size:
            stats.tail = "truncated"
            stats.note(f"file ends inside a chunk at byte {pos} ({size - pos - CHUNK_HEADER} of {length} bytes)")
            return
        data = buf[pos + CHUNK_HEADER : end]
        pos = end
        if zlib.crc32(data, _CRC_SEED[kind]) != crc:
            stats.corrupt_records += 1
            stats.note(f"CRC mismatch in a chunk ending at byte {end}; record skipped")
            parts = None
            continue
        if kind == FULL:
            parts = None
            stats.records += 1
            stats.end_offset = pos
            yield data
        elif kind == FIRST:
            parts = [data]
        elif parts is not None:  # MIDDLE or LAST whose FIRST survived
            parts.append(data)
            if kind == LAST:
                stats.records += 1
                stats.end_offset = pos
                yield b"".join(parts)
                parts = None


def _typed_value_json(item: Any) -> str:
    """The JSON text of an item: `value_json`, or the typed oneof newer writers may fill instead."""
    if item.value_json:
        return item.value_json
    which = item.WhichOneof("value")
    if which is None or which == "none":
        return "null"
    if which == "json":
        return item.json
    return json.dumps(getattr(item, which))


def _item_path(item: Any) -> list[str]:
    return [item.key] if item.key else list(item.nested_key)


def _flatten(tree: dict, prefix: str, out: dict) -> None:
    """Join nested dict keys with '.', keeping media dicts (those with `_type`) whole."""
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and "_type" not in value:
            _flatten(value, name, out)
        else:
            out[name] = value


def items_to_dict(items: Any) -> dict[str, Any]:
    """Decode a repeated HistoryItem/SummaryItem/ConfigItem into a flat {key: value} dict."""
    if not items:
        return {}
    # One json.loads per row instead of one per value: JSON decoding dominates the read time.
    values = json.loads("[" + ",".join(_typed_value_json(it) for it in items) + "]")
    row: dict[str, Any] = {}
    tree: dict[str, Any] = {}
    for item, value in zip(items, values):
        path = _item_path(item)
        if len(path) == 1:
            row[path[0]] = value
        else:
            node = tree
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = value
    if tree:
        _flatten(tree, "", row)
    nested = [k for k, v in row.items() if isinstance(v, dict) and "_type" not in v]
    for key in nested:  # the legacy writer stores a nested dict as one JSON value under its top key
        _flatten({key: row.pop(key)}, "", row)
    return row


@dataclass
class WandbFile:
    """Everything one `.wandb` file says about its run, in file order (the last `run` record wins)."""

    path: Path
    run_id: str | None = None
    display_name: str | None = None
    project: str | None = None
    entity: str | None = None
    group: str | None = None
    job_type: str | None = None
    notes: str | None = None
    sweep_id: str | None = None
    host: str | None = None
    start_time: float | None = None  # epoch seconds
    resumed: bool = False
    starting_step: int = 0
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)  # define_metric records
    exit_code: int | None = None  # None: no exit record (crashed or still running)
    exit_runtime_s: float | None = None
    writer_version: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    stats: ReadStats = field(default_factory=ReadStats)
    summary_raw: dict[str, tuple[list[str], str]] = field(default_factory=dict)  # path key -> (path, JSON)

    @property
    def has_exit(self) -> bool:
        return self.exit_code is not None

    def fold_state(self) -> dict[str, Any]:
        """Everything but the history, as JSON-able data: enough to resume reading where this read ended."""
        return {
            name: getattr(self, name)
            for name in (
                "run_id", "display_name", "project", "entity", "group", "job_type", "notes", "sweep_id", "host",
                "start_time", "resumed", "starting_step", "tags", "config", "metrics", "exit_code",
                "exit_runtime_s", "writer_version", "summary_raw",
            )
        } | {"end_offset": self.stats.end_offset, "tail": self.stats.tail}

    @classmethod
    def from_fold(cls, path: Path, fold: dict[str, Any]) -> WandbFile:
        """The file as an earlier read left it (no history): the starting point to read what came since."""
        out = cls(path=path)
        for name, value in fold.items():
            if name not in ("end_offset", "tail", "summary_raw"):
                setattr(out, name, value)
        out.summary_raw = {key: (list(p), v) for key, (p, v) in fold["summary_raw"].items()}
        out.summary = items_to_dict([summary_item(p, v) for p, v in out.summary_raw.values()])
        out.stats.end_offset, out.stats.tail = fold["end_offset"], fold["tail"]
        return out


def _apply_run_record(out: WandbFile, run: Any) -> None:
    out.run_id = run.run_id or out.run_id
    out.display_name = run.display_name or out.display_name
    out.project = run.project or out.project
    out.entity = run.entity or out.entity
    out.group = run.run_group or None
    out.job_type = run.job_type or None
    out.notes = run.notes or None
    out.sweep_id = run.sweep_id or None
    out.host = run.host or None
    out.resumed = bool(run.resumed)
    out.starting_step = int(run.starting_step)
    out.tags = list(run.tags)
    if run.HasField("start_time"):
        out.start_time = run.start_time.seconds + run.start_time.nanos / 1e9
    # A re-emitted run record carries the whole config again: it replaces, not merges.
    config = items_to_dict(run.config.update) if run.HasField("config") else {}
    if config or run.HasField("config"):
        out.config = config


def _apply_config_record(out: WandbFile, config: Any) -> None:
    out.config.update(items_to_dict(config.update))
    for item in config.remove:
        out.config.pop(".".join(_item_path(item)), None)


def summary_item(path: list[str], value_json: str) -> Any:
    item = pb.SummaryItem()
    item.nested_key.extend(path)
    item.value_json = value_json
    return item


def read_wandb_file(path: str | Path, *, data: bytes | None = None, resume: dict | None = None) -> WandbFile:
    """Read one `.wandb` file. Raises NotAWandbFile only for a file with no valid header.

    With `resume` (a `fold_state()` of an earlier read of the same, since grown, file) only the records
    written after that read are parsed; `history` then holds just the new rows.
    """
    path = Path(path)
    buf = data if data is not None else path.read_bytes()
    out = WandbFile.from_fold(path, resume) if resume else WandbFile(path=path)
    start = resume["end_offset"] if resume else None
    summary_json = out.summary_raw  # last raw update per key path; decoded once at the end
    record = pb.Record()
    for raw in iter_raw_records(buf, out.stats, start):
        try:
            record.ParseFromString(raw)
        except Exception as exc:  # noqa: BLE001 - DecodeError, and worse for garbage that passed the CRC
            out.stats.unparseable_records += 1
            out.stats.note(f"record {out.stats.records} does not parse as a Record: {exc}")
            continue
        kind = record.WhichOneof("record_type")
        if kind == "history":
            row = items_to_dict(record.history.item)
            if "_step" not in row and record.history.HasField("step"):
                row["_step"] = record.history.step.num
            row.setdefault("_step", 0)  # proto3: step 0 is written as "unset"
            out.history.append(row)
        elif kind == "summary":
            # About two summary records per logged row: keep this loop to a dict store per item.
            for item in record.summary.update:
                summary_json[item.key or "\x1f".join(item.nested_key)] = (_item_path(item), _typed_value_json(item))
            for item in record.summary.remove:
                summary_json.pop(item.key or "\x1f".join(item.nested_key), None)
        elif kind == "run":
            _apply_run_record(out, record.run)
        elif kind == "config":
            _apply_config_record(out, record.config)
        elif kind == "metric":
            m = record.metric
            out.metrics.append({"name": m.name or m.glob_name, "step_metric": m.step_metric or None})
        elif kind == "exit":
            out.exit_code = int(record.exit.exit_code)
            out.exit_runtime_s = float(record.exit.runtime)
        elif kind == "header":
            out.writer_version = record.header.version_info.producer or None
    out.summary = items_to_dict([summary_item(p, v) for p, v in summary_json.values()])
    out.config.pop("_wandb", None)  # SDK internals (cli_version, telemetry), not the user's config
    return out
