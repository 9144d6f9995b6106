"""Artifacts a run logged or used → the raw lake table `artifacts` (WAREHOUSE.md `run_artifacts`).

Offline, each `run.log_artifact` (and each version of a logged W&B Table, type `run_table`) is an
`ArtifactRecord` in the `.wandb` file: name, type, digest, aliases and a manifest whose entries name every
file, its size and the staging copy the SDK keeps on disk until the run is synced. The server assigns
versions (`v0`, `v1`, …) when it receives the artifact, so an offline artifact has its digest and no
version. A `UseArtifactRecord` names an artifact the run consumed (no files). The live API answers the
same facts (`Run.logged_artifacts()` / `used_artifacts()`), with versions; both end in one table shape.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from diplo_pipeline.lib.wandb.schemas import ARTIFACTS_SCHEMA

VERSION = re.compile(r"^v\d+$")


def logged_artifact(record: Any) -> dict[str, Any]:
    """An `ArtifactRecord` (wandb_internal.proto) as plain JSON-able data."""
    entries = list(record.manifest.contents)
    return {
        "direction": "logged",
        "name": record.name,
        "type": record.type,
        "version": None,
        "digest": record.digest or None,
        "aliases": list(record.aliases),
        "size_bytes": sum(int(e.size) for e in entries),
        "files": [e.path for e in entries],
        # A reference artifact's entry has a `ref` (file://…, s3://…) instead of a staging copy.
        "file_sources": [e.local_path or e.ref or None for e in entries],
        "metadata": record.metadata or None,
        "created_at": None,
    }


def used_artifact(record: Any) -> dict[str, Any]:
    """A `UseArtifactRecord`: `name` may carry `entity/project/` and a `:version` or `:alias`."""
    name, _, tag = record.name.rpartition(":") if ":" in record.name else (record.name, "", "")
    return {
        "direction": "used",
        "name": name.rsplit("/", 1)[-1],
        "type": record.type,
        "version": tag if VERSION.match(tag) else None,
        "digest": None,
        "aliases": [tag] if tag and not VERSION.match(tag) else [],
        "size_bytes": None,
        "files": [],
        "file_sources": [],
        "metadata": None,
        "created_at": None,
    }


def _on_disk(source: str | None) -> str | None:
    if not source:
        return None
    path = source.removeprefix("file://")
    return path if os.path.isfile(path) else None


def artifacts_table(run_id: str, artifacts: Iterable[dict[str, Any]], source: str) -> pa.Table:
    """One row per artifact: the same (direction, name, version or digest) written twice (a resumed
    run's files, a retried log) is one artifact, its last record kept."""
    latest: dict[tuple, dict[str, Any]] = {}
    for artifact in artifacts:
        key = (artifact["direction"], artifact["name"], artifact["version"] or artifact["digest"])
        latest.pop(key, None)
        latest[key] = artifact
    rows = []
    for artifact in latest.values():
        local = [_on_disk(s) for s in artifact["file_sources"]]
        present = [p for p in local if p]
        folder = os.path.commonpath([str(Path(p).parent) for p in present]) if present else None
        rows.append({
            "run_id": run_id,
            **{name: artifact[name] for name in ("direction", "name", "type", "version", "digest",
                                                  "size_bytes", "files", "metadata", "created_at")},
            "aliases": sorted(artifact["aliases"]),  # the SDK keeps them in a set: no order of its own
            "file_count": len(artifact["files"]) if artifact["direction"] == "logged" or artifact["files"] else None,
            "file_local_paths": local,
            "local_path": folder,
            "source": source,
        })
    return pa.Table.from_pylist(rows, schema=ARTIFACTS_SCHEMA)


def api_artifact(artifact: Any, direction: str) -> dict[str, Any]:
    """One artifact as the SDK's public API returns it (`wandb.Artifact` from a run's listing)."""
    name = artifact.name.rsplit(":", 1)[0]
    files = [f.name for f in artifact.files()] if direction == "logged" else []
    created = datetime.fromisoformat(artifact.created_at) if artifact.created_at else None
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)  # WandB's timestamps are UTC, sometimes without the zone
    return {
        "direction": direction,
        "name": name,
        "type": artifact.type,
        "version": artifact.version,
        "digest": artifact.digest or None,
        "aliases": [a for a in artifact.aliases if a != artifact.version],
        "size_bytes": int(artifact.size) if artifact.size is not None else None,
        "files": files,
        "file_sources": [None] * len(files),  # on WandB's storage, not on this machine
        "metadata": json.dumps(artifact.metadata, sort_keys=True) if artifact.metadata else None,
        "created_at": created,
    }
