"""Axiom events with a known answer, written in every export format the warehouse accepts.

`planted_events` makes realistic events (the fields of source-data.md §2.2, flat with dotted names as
Axiom stores them) that carry the values formats disagree about: hex-looking text ids ("785e3658",
"3617160", "0e12"), integral and fractional floats, 64-bit integers, lists of objects, unknown fields.
`WRITERS` writes a list of them as NDJSON, one-line and pretty JSON arrays, CSV, gzip, and saved API
answers (tabular and legacy), the way each producer would.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable
from pathlib import Path

# Text ids that look like numbers: hex batch ids ("785e3658" reads as 7.85e3660, "0e12" as 0.0).
HEX_LOOKING = ["785e3658", "3617160", "0e12", "1e5", "00ff", "12.50", "-0"]
FRACTIONS = ["", ".5", ".123456789", ".68112905", ".1234567", ".25"]


def _stamp(day: str, second: int, i: int) -> str:
    return f"{day}T{second // 3600:02d}:{second % 3600 // 60:02d}:{second % 60:02d}{FRACTIONS[i % len(FRACTIONS)]}Z"


def planted_events(n: int, day: str = "2025-12-22", offset: int = 0) -> list[dict]:
    """n distinct events spread over one UTC day, five kinds in turn; `seq` tells them apart."""
    events = []
    for k in range(n):
        i = offset + k
        t = _stamp(day, (i * 7919) % 86_400, i)
        base = {"_time": t, "_sysTime": t, "service": "unknown", "seq": i}
        kind = i % 5
        if kind == 0:
            events.append({**base, "event": "prefix_cache_stats", "batch_id": HEX_LOOKING[i % len(HEX_LOOKING)],
                           "hit_rate": 0.5 + (i % 10) / 20, "queries": 1000 + i, "hits": 500 + i,
                           "prompt_tokens_total": 2**40 + i, "cache_efficiency": float(i % 3)})
        elif kind == 1:
            events.append({**base, "event": "rollout_complete", "rollout_id": f"game-{i}",
                           "total_duration_ms": 92000 + i, "trajectories_count": 72, "total_inference_calls": 18,
                           "extraction_rate": 0.9375})
        elif kind == 2:
            events.append({**base, "event": "gpu_stats", "context": f"train_grpo_benchmark:grpo-20251222-{i:06d}",
                           "gpu_utilization": 44.5, "memory_total": 85_520_809_984, "memory_used": 40_000_000_000 + i,
                           "memory_utilization": 47})
        elif kind == 3:
            events.append({**base, "event": "benchmark_evaluation_complete",
                           "checkpoint_path": f"runs/grpo-{i}/adapter_v3",
                           "opponents": ["random", "greedy"], "results": [{"opponent": "random", "score": 0.75}],
                           "overall_score": 0.625, "training_step": 40 + i, "config.learning_rate": 1e-05,
                           "label": HEX_LOOKING[i % len(HEX_LOOKING)] + "x"})
        else:
            events.append({**base, "event": "inference_response", "batch_size": 8, "tokens_generated": 1234 + i,
                           "tokens_per_second": 456.25, "lora_name": "mixed:2_adapters", "step_type": "generate",
                           "note": "<tags> & \u2028 survive", "ratio": 3.5})
    return events


def ndjson_bytes(events: list[dict]) -> bytes:
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events).encode()


def csv_text(events: list[dict]) -> str:
    """What a CSV writer makes of the events: a header of every key, text as is, other values as JSON text,
    an empty cell for a field an event lacks. (Axiom's Console CSV shape is undocumented, source-formats.md
    §C.3, so this is the plain reading of "CSV with a header".)"""
    header = sorted({key for event in events for key in event})
    out = io.StringIO()
    writer = csv.writer(out)  # the csv module's own dialect: \r\n ends a row, cells holding \r or \n are quoted
    writer.writerow(header)
    for event in events:
        writer.writerow(["" if key not in event else event[key] if isinstance(event[key], str)
                         else json.dumps(event[key]) for key in header])
    return out.getvalue()


def tabular_answer(events: list[dict]) -> dict:
    """A saved `format=tabular` APL answer: column-major, a column per field of any row, null where absent."""
    names = sorted({key for event in events for key in event})
    return {
        "format": "tabular", "datasetNames": ["diplomacy"],
        "status": {"elapsedTime": 1, "rowsMatched": len(events), "isPartial": False},
        "tables": [{"name": "0", "fields": [{"name": n, "type": "string"} for n in names],
                    "columns": [[event.get(n) for event in events] for n in names]}],
    }


def legacy_answer(events: list[dict]) -> dict:
    """A saved `format=legacy` APL answer: matches of `data` plus `_time`, `_sysTime` and a `_rowId`."""
    return {
        "status": {"elapsedTime": 1, "rowsMatched": len(events), "isPartial": False},
        "matches": [{"_time": e["_time"], "_sysTime": e.get("_sysTime", e["_time"]), "_rowId": f"row-{i}",
                     "data": {k: v for k, v in e.items() if k not in ("_time", "_sysTime")}}
                    for i, e in enumerate(events)],
    }


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


# format name → (file suffix, events → file bytes)
WRITERS: dict[str, tuple[str, Callable[[list[dict]], bytes]]] = {
    "ndjson": (".ndjson", ndjson_bytes),
    "array": (".json", lambda events: json.dumps(events, separators=(",", ":")).encode()),
    "pretty_array": (".json", lambda events: json.dumps(events, indent=2).encode()),
    "csv": (".csv", lambda events: csv_text(events).encode()),
    "ndjson_gz": (".ndjson.gz", lambda events: _gzip(ndjson_bytes(events))),
    "csv_gz": (".csv.gz", lambda events: _gzip(csv_text(events).encode())),
    "api_tabular": (".json", lambda events: json.dumps(tabular_answer(events)).encode()),
    "api_legacy": (".json", lambda events: json.dumps(legacy_answer(events), indent=1).encode()),
}


def write_export(directory: Path, name: str, fmt: str, events: list[dict]) -> Path:
    suffix, render = WRITERS[fmt]
    path = directory / f"{name}{suffix}"
    path.write_bytes(render(events))
    return path
