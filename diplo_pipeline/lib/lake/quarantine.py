"""Bad input is kept, with where it came from and why, in `data/quarantine/<source>/<unit>.ndjson`.

One file per ingested unit (a WandB run, an Axiom export file), replaced when that unit is re-ingested,
so re-running never duplicates entries and fixing a source clears its quarantine.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from diplo_pipeline.lib.lake.io import write_text_atomic

MAX_RAW_CHARS = 2000  # keep enough of the bad input to recognise it without copying huge blobs


@dataclass(frozen=True)
class QuarantinedItem:
    file: str
    line: int | None  # 1-based line for text files; None where a byte offset is in the reason
    reason: str
    raw: str | None = None


def write_quarantine(root: Path, source: str, unit: str, items: list[QuarantinedItem]) -> Path:
    path = root / source / f"{unit}.ndjson"
    if not items:
        path.unlink(missing_ok=True)
        return path
    lines = []
    for item in items:
        record = asdict(item)
        if record["raw"] is not None and len(record["raw"]) > MAX_RAW_CHARS:
            record["raw"] = record["raw"][:MAX_RAW_CHARS] + "…"
        lines.append(json.dumps(record, ensure_ascii=False))
    write_text_atomic("\n".join(lines) + "\n", path)
    return path


def count_quarantined(root: Path, source: str, prefix: str = "") -> tuple[int, dict[str, int]]:
    """Total quarantined items of a source (units whose name starts with `prefix`), and the count per unit."""
    per_unit = {}
    for path in sorted((root / source).glob(f"{prefix}*.ndjson")):
        with path.open() as handle:
            per_unit[path.stem] = sum(1 for line in handle if line.strip())
    return sum(per_unit.values()), per_unit


def sample_quarantined(root: Path, source: str, limit: int = 5, prefix: str = "") -> list[dict]:
    out: list[dict] = []
    for path in sorted((root / source).glob(f"{prefix}*.ndjson")):
        with path.open() as handle:
            for line in handle:
                if line.strip():
                    out.append(json.loads(line))
                    if len(out) >= limit:
                        return out
    return out
