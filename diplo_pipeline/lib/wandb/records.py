"""Reader for WandB's `.wandb` transaction log (source-formats.md §A): its records → one `WandbFile`.

The framing (blocks, chunks, CRCs, damage) is `wandb_framing`; value decoding is `wandb_values`. Every
record is a serialized `wandb_internal.Record` protobuf, parsed with the SDK's own definitions.

The reader never raises on damaged data once the header is valid: damaged regions of the file, records
that do not parse and values that cannot be decoded are each kept in `ReadStats.damage` with their byte
range (the quarantine), and everything readable beside them is kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2 as pb

from diplo_pipeline.lib.wandb.artifacts import logged_artifact, used_artifact
from diplo_pipeline.lib.wandb.log_format import (  # noqa: F401 - the framing's names, as this reader's
    BLOCK_SIZE,
    CHUNK_HEADER,
    FILE_HEADER,
    FIRST,
    FULL,
    LAST,
    MIDDLE,
    TRUNCATED,
    Damage,
    NotAWandbFile,
    ReadStats,
    iter_raw_records,
    iter_records,
)
from diplo_pipeline.lib.wandb.plain_items import PlainBatch, plain_values, record_items
from diplo_pipeline.lib.wandb.values import (
    BadValue,
    as_int64,
    epoch_seconds,
    finite_number,
    item_path,
    items_to_dict,
    typed_value_json,
    values_to_dict,
)

# The SDK's bookkeeping in every history row, and what the lake's columns for them can hold.
BOOKKEEPING = {
    "_step": (as_int64, "is not a step a BIGINT can hold"),
    "_timestamp": (epoch_seconds, "is not a time in epoch seconds (years 1 to 9999)"),
    "_runtime": (finite_number, "is not a finite number of seconds"),
}


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
    summary_problems: list[tuple[str, str]] = field(default_factory=list)  # (reason, raw JSON) set aside
    artifacts: list[dict[str, Any]] = field(default_factory=list)  # artifact/use_artifact records (artifacts.py)

    @property
    def has_exit(self) -> bool:
        return self.exit_code is not None

    def decode_summary(self) -> None:
        """The summary from the last raw value of each key (decoded once, at the end: it is rewritten often)."""
        bad: list[BadValue] = []
        self.summary = values_to_dict(self.summary_raw.values(), bad)
        self.summary_problems = [(b.describe("the run's summary"), b.text) for b in bad]

    def fold_state(self) -> dict[str, Any]:
        """Everything but the history, as JSON-able data: enough to resume reading where this read ended."""
        return {
            name: getattr(self, name)
            for name in (
                "run_id", "display_name", "project", "entity", "group", "job_type", "notes", "sweep_id", "host",
                "start_time", "resumed", "starting_step", "tags", "config", "metrics", "exit_code",
                "exit_runtime_s", "writer_version", "summary_raw", "artifacts",
            )
        } | {
            "end_offset": self.stats.end_offset,
            "tail": self.stats.tail,
            # Damage before end_offset is not read again by a resumed read, so a damaged file is always
            # read whole (wandb_runs._read_files): what was found then is found again, or is gone.
            "damaged": sum(1 for d in self.stats.damage if d.offset < self.stats.end_offset),
        }

    @classmethod
    def from_fold(cls, path: Path, fold: dict[str, Any]) -> WandbFile:
        """The file as an earlier read left it (no history): the starting point to read what came since."""
        out = cls(path=path)
        for name, value in fold.items():
            if name not in ("end_offset", "tail", "damaged", "summary_raw"):
                setattr(out, name, value)
        out.summary_raw = {key: (list(p), v) for key, (p, v) in fold["summary_raw"].items()}
        out.decode_summary()
        out.stats.end_offset, out.stats.tail = fold["end_offset"], fold["tail"]
        return out


def _apply_run_record(out: WandbFile, run: Any, bad: list[BadValue]) -> None:
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
        start = run.start_time.seconds + run.start_time.nanos / 1e9
        if epoch_seconds(start) is None:
            bad.append(BadValue(["start_time"], str(run.start_time.seconds), "is not a time in epoch seconds"))
        else:
            out.start_time = start
    # A re-emitted run record carries the whole config again: it replaces, not merges.
    config = items_to_dict(run.config.update, bad) if run.HasField("config") else {}
    if config or run.HasField("config"):
        out.config = config


def _apply_config_record(out: WandbFile, config: Any, bad: list[BadValue]) -> None:
    out.config.update(items_to_dict(config.update, bad))
    for item in config.remove:
        out.config.pop(".".join(item_path(item)), None)


class _SummaryLog:
    """The summary's last raw value per key, in the order of `WandbFile.summary_raw` (a key keeps the place
    of its first write, a removed one goes), gathered in bulk: keys and texts stay UTF-8 bytes until the end,
    and a run of plain updates (path = [key]) is one dict update."""

    def __init__(self, raw: dict[str, tuple[list[str], str]]) -> None:
        self.texts: dict[bytes, bytes] = {key.encode(): text.encode() for key, (_, text) in raw.items()}
        # Paths other than [key] (a nested path, a legacy `key` holding the separator), by key.
        self.paths: dict[bytes, list[str]] = {key.encode(): path for key, (path, _) in raw.items() if path != [key]}

    def plain(self, keys: list[bytes], texts: list[bytes]) -> None:
        if self.paths and not self.paths.keys().isdisjoint(keys):
            for key in keys:
                self.paths.pop(key, None)
        self.texts.update(zip(keys, texts, strict=True))

    def item(self, key: str, path: list[str], text: str) -> None:
        name = key.encode()
        self.texts[name] = text.encode()
        if path != [key]:
            self.paths[name] = path
        else:
            self.paths.pop(name, None)

    def remove(self, key: str) -> None:
        self.texts.pop(key.encode(), None)
        self.paths.pop(key.encode(), None)

    def raw(self) -> dict[str, tuple[list[str], str]]:
        out = {}
        for name, text in self.texts.items():
            key, path = name.decode(), self.paths.get(name)
            out[key] = (path if path is not None else [key], text.decode())  # a path may be [] (no key)
        return out


def read_wandb_file(path: str | Path, *, data: bytes | None = None, resume: dict | None = None) -> WandbFile:
    """Read one `.wandb` file. Raises NotAWandbFile only for a file with no valid header.

    With `resume` (a `fold_state()` of an earlier read of the same, since grown, file) only the records
    written after that read are parsed; `history` then holds just the new rows.

    Three passes over the records: framing; parsing, with the items of history and summary records taken
    as bytes; then, after reading the plain ones of all records at once (`plain_items.PlainBatch`), the
    records in file order as one pass would, each damage entry in the place one pass would put it.
    """
    path = Path(path)
    buf = data if data is not None else path.read_bytes()
    out = WandbFile.from_fold(path, resume) if resume else WandbFile(path=path)
    start = resume["end_offset"] if resume else None
    stats = out.stats
    # Each record with where it ends and how many framing damage entries come before it.
    framed = [(offset, raw, stats.end_offset, len(stats.damage)) for offset, raw in iter_records(buf, stats, start)]
    framing_damage, stats.damage = stats.damage, []
    parsed: list[tuple[Any, str | None, int | None]] = []  # (record or the parse error, kind, index in spans)
    items: dict[str, list[bytes]] = {"history": [], "summary": []}
    spans: dict[str, list[tuple[int, int]]] = {"history": [], "summary": []}
    for _offset, raw, _end, _mark in framed:
        try:
            # A new message per record: parsing into one reused message (ParseFromString) is several times slower.
            record = pb.Record.FromString(raw)
        except Exception as exc:  # noqa: BLE001 - DecodeError, and worse for garbage that passed the CRC
            parsed.append((exc, None, None))
            continue
        kind = record.WhichOneof("record_type")
        span = None
        if kind == "history" or kind == "summary":
            count = len(record.history.item) if kind == "history" else len(record.summary.update)
            got = record_items(raw, kind, count)
            if got is not None:
                first = len(items[kind])
                items[kind].extend(got)
                span = len(spans[kind])
                spans[kind].append((first, first + count))
        parsed.append((record, kind, span))
    history = PlainBatch(items["history"], spans["history"], text_keys=True)
    summary = PlainBatch(items["summary"], spans["summary"], text_keys=False)
    every = history.all_texts()
    values = plain_values(every) if every is not None else None  # every history value in one call, if it can be
    at_value = 0
    summary_log = _SummaryLog(out.summary_raw)
    placed = 0
    for (offset, _raw, end, mark), (record, kind, span) in zip(framed, parsed, strict=True):
        stats.damage.extend(framing_damage[placed:mark])
        placed = mark
        if kind is None and isinstance(record, Exception):
            stats.unparseable_records += 1
            stats.add(Damage(offset, end - offset, "unparseable", str(record)))
            continue
        stats.kinds[kind or "empty"] += 1
        bad: list[BadValue] = []
        if kind == "history":
            row = None
            if span is not None and history.spans[span] is not None:
                count = history.spans[span][1]
                if values is not None:
                    row_values, at_value = values[at_value : at_value + count], at_value + count
                else:
                    row_values = plain_values(history.texts(span))
                if row_values is not None:  # as values_to_dict makes it: a later item of a key wins
                    row = dict(zip(history.keys(span), row_values, strict=True))
            if row is None:
                row = items_to_dict(record.history.item, bad)
            for key, (fits, why) in BOOKKEEPING.items():
                if row.get(key) is not None and fits(row[key]) is None:
                    bad.append(BadValue([key], json.dumps(row.pop(key)), why))
            if "_step" not in row and record.history.HasField("step"):
                row["_step"] = record.history.step.num
            row.setdefault("_step", 0)  # proto3: step 0 is written as "unset"
            out.history.append(row)
        elif kind == "summary":
            if span is not None and summary.spans[span] is not None:
                summary_log.plain(summary.keys(span), summary.texts(span))
            else:
                for item in record.summary.update:
                    summary_log.item(item.key or "\x1f".join(item.nested_key), item_path(item), typed_value_json(item))
            for item in record.summary.remove:
                summary_log.remove(item.key or "\x1f".join(item.nested_key))
        elif kind == "run":
            _apply_run_record(out, record.run, bad)
        elif kind == "config":
            _apply_config_record(out, record.config, bad)
        elif kind == "metric":
            m = record.metric
            out.metrics.append({"name": m.name or m.glob_name, "step_metric": m.step_metric or None})
        elif kind == "exit":
            out.exit_code = int(record.exit.exit_code)
            out.exit_runtime_s = float(record.exit.runtime)
        elif kind == "header":
            out.writer_version = record.header.version_info.producer or None
        elif kind == "artifact":
            out.artifacts.append(logged_artifact(record.artifact))
        elif kind == "use_artifact":
            out.artifacts.append(used_artifact(record.use_artifact))
        if bad:
            stats.bad_value_records += 1
            for value in bad:
                stats.add(Damage(offset, end - offset, "bad_value", value.describe(f"this {kind} record"),
                                 raw=value.text))
    stats.damage.extend(framing_damage[placed:])
    out.summary_raw = summary_log.raw()
    out.decode_summary()
    out.config.pop("_wandb", None)  # SDK internals (cli_version, telemetry), not the user's config
    return out
