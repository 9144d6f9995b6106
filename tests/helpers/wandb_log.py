"""Frame protobuf records as a `.wandb` transaction log, for record shapes today's SDK no longer writes.

The legacy writer (wandb ≤ 0.17, `key` + JSON items) and the typed `value` oneof (read by 0.31 but not yet
written by it) cannot be produced by the installed SDK, so these tests build the records with the SDK's
own protobuf classes and frame them exactly as the LevelDB-log format specifies (source-formats.md §A.2).
"""

from __future__ import annotations

from pathlib import Path

from wandb.proto import wandb_internal_pb2 as pb

from bench.wandb_copy import frame_records
from diplo_pipeline.lib.wandb.log_format import FILE_HEADER


def frame(payloads: list[bytes]) -> bytes:
    """A whole file of these payloads, framed by the benchmark's writer (one LevelDB-log writer in the repo)."""
    return FILE_HEADER + frame_records(payloads)


def write_log(path: Path, records: list[pb.Record]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(frame([r.SerializeToString() for r in records]))
    return path


def run_record(run_id: str, name: str, start: float, config: dict[str, str] | None = None) -> pb.Record:
    record = pb.Record()
    record.run.run_id = run_id
    record.run.display_name = name
    record.run.project = "diplomacy-grpo"
    record.run.start_time.FromMicroseconds(int(start * 1e6))
    for key, value_json in (config or {}).items():
        item = record.run.config.update.add()
        item.key = key
        item.value_json = value_json
    return record


def history_record(items: list[tuple[str, str]], step: int) -> pb.Record:
    """Legacy form: one `key` per item, the value as JSON text."""
    record = pb.Record()
    for key, value_json in items:
        item = record.history.item.add()
        item.key = key
        item.value_json = value_json
    record.history.step.num = step
    return record


def exit_record(code: int) -> pb.Record:
    record = pb.Record()
    record.exit.exit_code = code
    return record
