"""A catalog in a bucket that never shows a reader two builds at once: immutable file versions, swapped in whole.

On disk the catalog's views are globs over the lake, and a partition rewritten after a publish shows through
(docs/architecture.md says so). A bucket's readers sit on other machines and keep connections open for hours,
so there the catalog names exact versions instead:

1. Publishing copies every file a view reads to `lake/_versions/<its path>/<mtime_ns>-<size>.parquet` (a
   server-side copy, made once per version: a file unchanged since the last publish is not copied again) and
   the views read those copies, listed one by one — no glob, so nothing written later can join them.
2. The catalog file goes to `catalogs/<stamp>.duckdb` (never overwritten), with `catalogs/<stamp>.json`
   naming the versions it reads; then `catalog.json` (the pointer) and `warehouse.duckdb` (the newest catalog,
   for a plain `ATTACH`) are each replaced by one PUT. That PUT is the swap: a reader attached to an older
   catalog keeps reading its versions, a new reader gets the whole new build.
3. The catalogs beyond the newest `limit_catalog_versions_kept()` are deleted with the versions only they read,
   so a reader holding a connection across that many publishes should reattach (`diplo catalog-url`).

Why not DuckLake (docs/architecture.md): it would be a second catalog beside Dagster's, in PostgreSQL, that
every reader must reach; these versions need only the bucket, and every reader's DuckDB already reads it.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass, field

from diplo_pipeline.lib.lake.io import read_json, write_json_atomic
from diplo_pipeline.lib.lake.object_store import ObjectPath

POINTER = "catalog.json"
LATEST = "warehouse.duckdb"


def versions_root(lake: ObjectPath) -> ObjectPath:
    return lake / "_versions"


@dataclass
class VersionPinner:
    """`pin(files)` for a catalog build: each file's immutable copy, made the first time it is needed."""

    lake: ObjectPath
    used: set[str] = field(default_factory=set)

    def version_of(self, path: ObjectPath) -> ObjectPath:
        stat = path.stat()
        relative = str(path.relative_to(self.lake)).removesuffix(".parquet")
        return versions_root(self.lake) / relative / f"{stat.st_mtime_ns}-{stat.st_size}.parquet"

    def __call__(self, files: list[ObjectPath]) -> list[ObjectPath]:
        pinned = []
        for path in files:
            version = self.version_of(path)
            if str(version) not in self.used and not version.exists():
                path.copy_to(version)
            self.used.add(str(version))
            pinned.append(version)
        return pinned


def new_stamp() -> str:
    """Sorts by publish time; the random tail keeps two publishes in one microsecond apart."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)


def catalogs_folder(root: ObjectPath) -> ObjectPath:
    return root / "catalogs"


def published_url(root: ObjectPath) -> ObjectPath | None:
    """The newest published catalog (an immutable object), from the pointer; None before the first publish."""
    pointer = read_json(root / POINTER, None)
    return root / pointer["catalog"] if pointer else None


def publish(root: ObjectPath, local_catalog, pinner: VersionPinner, keep: int) -> ObjectPath:
    """Upload the built catalog under a new stamp, swap the pointer to it, then drop what is no longer kept."""
    stamp = new_stamp()
    folder = catalogs_folder(root)
    target = folder / f"{stamp}.duckdb"
    data = local_catalog.read_bytes()
    target.write_bytes(data)
    write_json_atomic({"versions": sorted(pinner.used)}, folder / f"{stamp}.json")
    (root / LATEST).write_bytes(data)
    published_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    write_json_atomic({"catalog": f"catalogs/{stamp}.duckdb", "published_at": published_at}, root / POINTER)
    forget_old(root, pinner.lake, keep)
    return target


def forget_old(root: ObjectPath, lake: ObjectPath, keep: int) -> list[str]:
    """Delete the catalogs older than the newest `keep`, and every version none of the kept ones reads."""
    folder = catalogs_folder(root)
    manifests = sorted(folder.glob("*.json"), key=lambda p: p.name)
    kept, dropped = manifests[-keep:], manifests[:-keep]
    referenced = set()
    for manifest in kept:
        referenced |= set(json.loads(manifest.read_text())["versions"])
    removed = []
    for manifest in dropped:
        (folder / f"{manifest.stem}.duckdb").unlink(missing_ok=True)
        manifest.unlink(missing_ok=True)
        removed.append(manifest.stem)
    if dropped:
        for version in versions_root(lake).rglob("*.parquet"):
            if str(version) not in referenced:
                version.unlink(missing_ok=True)
    return removed
