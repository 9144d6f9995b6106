"""Sweep definitions: the training system's `sweep.yaml` files (source-data.md §4) as table rows.

Layout: metadata {name, description, hypothesis, experiment_tag_prefix, created, author}, defaults,
runs {LETTER: {name, description, config}}, analysis {primary_metric, secondary_metrics,
expected_ranking, success_criteria}. `${metadata.x}` references are resolved as the training system does.
A `notes.md` beside the file (lib/sweeps/notes.py) adds the hand-written tracker fields.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from diplo_pipeline.lib.lake.quarantine import QuarantinedItem
from diplo_pipeline.lib.sweeps.notes import read_notes

DEFINITIONS_SCHEMA = pa.schema(
    [
        ("sweep_name", pa.string()),
        ("experiment_tag_prefix", pa.string()),
        ("description", pa.string()),
        ("hypothesis", pa.string()),
        ("created", pa.string()),
        ("author", pa.string()),
        ("primary_metric", pa.string()),
        ("expected_ranking", pa.list_(pa.string())),
        ("success_criteria", pa.list_(pa.string())),
        ("defaults", pa.string()),  # JSON
        ("runs", pa.string()),  # JSON: letter -> {name, description, config (merged with defaults)}
        ("source_path", pa.string()),
        # the hand-written tracker fields from notes.md beside sweep.yaml (lib/sweeps/notes.py)
        ("notes_path", pa.string()),
        ("notes_status", pa.string()),
        ("key_learnings", pa.string()),
        ("root_cause", pa.string()),
        ("follow_up", pa.string()),
    ]
)
_REFERENCE = re.compile(r"\$\{metadata\.([A-Za-z_]+)\}")


def _resolve(value: Any, metadata: dict) -> Any:
    if isinstance(value, str):
        return _REFERENCE.sub(lambda m: str(metadata.get(m.group(1), m.group(0))), value)
    if isinstance(value, dict):
        return {k: _resolve(v, metadata) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, metadata) for v in value]
    return value


def parse_definition(path: Path) -> dict[str, Any]:
    """One sweep.yaml as a row. Raises ValueError saying what is wrong with the file."""
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("metadata"), dict) or "name" not in spec["metadata"]:
        raise ValueError("no metadata.name: not a sweep definition")
    metadata = spec["metadata"]
    spec = _resolve(spec, metadata)
    metadata, analysis = spec["metadata"], spec.get("analysis") or {}
    defaults = spec.get("defaults") or {}
    runs = {
        str(letter): {**run, "config": {**defaults, **(run.get("config") or {})}}
        for letter, run in (spec.get("runs") or {}).items()
    }
    return {
        "sweep_name": str(metadata["name"]),
        "experiment_tag_prefix": metadata.get("experiment_tag_prefix"),
        "description": metadata.get("description"),
        "hypothesis": metadata.get("hypothesis"),
        "created": str(metadata["created"]) if metadata.get("created") is not None else None,
        "author": metadata.get("author"),
        "primary_metric": analysis.get("primary_metric"),
        "expected_ranking": [str(x) for x in analysis.get("expected_ranking") or []] or None,
        "success_criteria": [str(x) for x in analysis.get("success_criteria") or []] or None,
        "defaults": json.dumps(defaults, sort_keys=True, default=str),
        "runs": json.dumps(runs, sort_keys=True, default=str),
        "source_path": str(path),
        **read_notes(path),
    }


def read_definitions(root: Path) -> tuple[pa.Table, list[QuarantinedItem]]:
    rows, bad = [], []
    for path in sorted(root.rglob("sweep.yaml")) if root.is_dir() else []:
        try:
            rows.append(parse_definition(path))
        except (ValueError, OSError) as exc:
            bad.append(QuarantinedItem(str(path), None, str(exc)))
    return pa.Table.from_pylist(rows, schema=DEFINITIONS_SCHEMA), bad
