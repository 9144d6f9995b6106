"""Atomic, idempotent writes into the Parquet lake and its small JSON state files, on disk or in a bucket.

This module and lib/lake/object_store.py are the one filesystem layer of the lake: on disk a file is written
to a temp file in its folder and renamed into place; in a bucket (`DIPLO_LAKE_URL=s3://…`) it is one PUT,
which is atomic by itself. Either way a reader or a killed build never sees half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from diplo_pipeline.lib.lake.object_store import ObjectPath, ObjectStat

LakePath = Path | ObjectPath


def _atomic_target(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def atomic_target(path: LakePath) -> Iterator[str]:
    """Where a writer (DuckDB's COPY, say) should write `path`'s new content: a temp file renamed over `path`
    when the block ends without error, or, in a bucket, the object itself (a PUT appears whole or not at all)."""
    if isinstance(path, ObjectPath):
        yield str(path)
        return
    tmp = _atomic_target(path)
    try:
        yield str(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def file_stats(
    paths: Iterable[LakePath], *, existence_only: bool = False
) -> dict[LakePath, os.stat_result | ObjectStat | None]:
    """Each path's size and modification time, None where it is missing. In a bucket each folder is listed
    once instead of each object asked for (a HEAD, and a LIST after it when the object is missing): the
    fingerprints of every run's partitions are then a LIST per table, not a few requests per file. By
    listing even for one path, so a path's stat is the same however many neighbours were asked with it (a
    HEAD and a LIST may give the modification time at different precisions: MinIO's do). When only
    whether a path exists counts (`existence_only`), a folder asked for one path is asked with a HEAD: one
    run's partitions in a bucket holding a thousand runs' are then not a thousand-key LIST per table."""
    stats: dict[LakePath, os.stat_result | ObjectStat | None] = {}
    folders: dict[ObjectPath, list[ObjectPath]] = {}
    for path in paths:
        if isinstance(path, ObjectPath):
            folders.setdefault(path.parent, []).append(path)
        else:
            stats[path] = _stat_or_none(path)
    for folder, wanted in folders.items():
        if existence_only and len(wanted) == 1:
            stats[wanted[0]] = _stat_or_none(wanted[0])
            continue
        listed = {found.name: found for found in folder.iterdir() if found.is_file()}
        for path in wanted:
            stats[path] = listed[path.name].stat() if path.name in listed else None
    return stats


def _stat_or_none(path: LakePath) -> os.stat_result | ObjectStat | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def write_parquet_atomic(table: pa.Table, path: LakePath) -> None:
    """Write to a temp file in the same folder, then rename: readers see the old file or the new one."""
    if isinstance(path, ObjectPath):
        pq.write_table(table, path.fs_path, filesystem=path.fs, compression="zstd")
        return
    with atomic_target(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_parquet(path: LakePath | str) -> pa.Table:
    """A lake file as an Arrow table (a path, or its text as DuckDB's queries name it)."""
    if isinstance(path, str):
        path = ObjectPath(path) if path.startswith("s3://") else Path(path)
    if isinstance(path, ObjectPath):
        return pq.read_table(path.fs_path, filesystem=path.fs)
    return pq.read_table(path)


def write_text_atomic(text: str, path: LakePath) -> None:
    if isinstance(path, ObjectPath):
        path.write_text(text)
        return
    with atomic_target(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")  # not the locale's: a C locale cannot write every name


def read_json(path: LakePath, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default


def write_json_atomic(obj: Any, path: LakePath) -> None:
    write_text_atomic(json.dumps(obj, indent=1, sort_keys=True), path)


def link_or_copy(source: LakePath, target: LakePath) -> None:
    """`target` becomes the bytes of `source` at no cost where the store allows: a hard link on disk (a later
    rewrite of `source` is a new inode, so the link keeps these bytes), a server-side copy in a bucket."""
    if isinstance(source, ObjectPath):
        source.copy_to(target)
        return
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links: a copy costs more but keeps the same promise
        shutil.copyfile(source, target)


def same_file(a: LakePath, b: LakePath) -> bool:
    """`a` is `b` (the same inode on disk). Objects are never the same: a copy is a copy."""
    if isinstance(a, ObjectPath):
        return False
    return os.path.samefile(a, b)


def remove_tree(path: LakePath) -> None:
    if isinstance(path, ObjectPath):
        path.remove_tree()
    else:
        shutil.rmtree(path, ignore_errors=True)


def replace_with_link(source: LakePath, target: LakePath) -> None:
    """`target` becomes `source`'s bytes (a link renamed into place on disk, a server-side copy in a bucket)."""
    if isinstance(target, ObjectPath):
        link_or_copy(source, target)
        return
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    link_or_copy(source, tmp)
    os.replace(tmp, target)


def replace_folder_with_links(files: list[LakePath], folder: LakePath) -> None:
    """`folder` becomes links to exactly `files`: on disk built aside, then swapped in; in a bucket (no rename
    of a prefix) each file copied, then the ones no longer listed deleted."""
    if isinstance(folder, ObjectPath):
        wanted = {path.name for path in files}
        for path in files:
            link_or_copy(path, folder / path.name)
        for old in list(folder.glob("*")):
            if old.name not in wanted:
                old.unlink(missing_ok=True)
        return
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for path in files:
        link_or_copy(path, tmp / path.name)
    old = folder.with_name(f".{folder.name}.{os.getpid()}.old")
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)
