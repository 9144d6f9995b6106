"""What the last complete downstream build was made from, so a build with nothing new does nothing.

After the source phases of `diplo build`, everything downstream (the SQL models, the Python marts, their
checks, the reports, the catalog) is a function of three things: the raw lake (`lake/raw/`), the sweep
definition files, and the code and SQL that compute it (`dbt_like_sql/`, `diplo_pipeline/`, with the
`DIPLO_*` settings). Their fingerprint is stored with what that build reported; a later build whose
fingerprint is the same skips the downstream phases, materialises nothing and reports the stored figures.
The sources stay incremental on their own (unchanged runs and export files are not read again), so an
unchanged raw lake means unchanged files here: their sizes and modification times are enough, and
re-hashing gigabytes of Parquet is not needed. When the fingerprint differs, what is rebuilt is decided
per partition (partitions.py) and per asset (staleness.py); deleting `lake/_state/last_build.json`,
`assets.json` and `partitions/` forces a full downstream build.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from diplo_pipeline.lib.lake.duck import MEMORY_LIMIT_ENV, THREADS_ENV
from diplo_pipeline.lib.lake.io import read_json, write_text_atomic
from diplo_pipeline.lib.settings import SOURCE_VARIABLES, DataPaths
from diplo_pipeline.lib.warehouse.sql_project import SQL_ROOT

PACKAGE = Path(__file__).resolve().parents[2]  # diplo_pipeline/
CODE_SUFFIXES = {".py", ".sql", ".yml", ".yaml"}


def state_path(paths: DataPaths) -> Path:
    # this host's: the record says its catalog and reports are complete (lib/settings.py DataPaths.host_state)
    return paths.host_state / "last_build.json"


def stat_lines(root: Path, skip: tuple[str, ...] = ()) -> Iterable[str]:
    """One line per file under `root` (but the subfolders `skip`): its path, size and modification time
    (files the sources rewrite atomically get a new mtime whenever their content changes)."""
    if not root.exists():
        return
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] not in skip):
        stat = path.stat()
        yield f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}"


def _code_lines(roots: Iterable[Path]) -> Iterable[str]:
    """One line per code or SQL file: its path and the hash of its content (a checkout sets mtimes anew)."""
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.suffix in CODE_SUFFIXES and "__pycache__" not in p.parts):
            yield f"{path.relative_to(root.parent)}\0{hashlib.sha256(path.read_bytes()).hexdigest()}"


def fingerprint(parts: Iterable[tuple[str, Iterable[str]]]) -> str:
    digest = hashlib.sha256()
    for name, lines in parts:
        digest.update(f"[{name}]\n".encode())
        for line in lines:
            digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


# Settings that change how fast a build goes, never what it writes: changing them rebuilds nothing.
RESOURCE_SETTINGS = frozenset({MEMORY_LIMIT_ENV, THREADS_ENV})
# Settings that say where this host keeps its files, never what the tables hold: downstream reads the raw
# lake (fingerprinted by its files) and the sweep files (by their listing), not the inboxes, and each host's
# own outputs keep their state in its data dir. Two hosts sharing a bucket so agree on what is up to date.
HOST_SETTINGS = frozenset({"DIPLO_DATA_DIR", *SOURCE_VARIABLES})


def _code_parts(code_roots: Iterable[Path]) -> list[tuple[str, Iterable[str]]]:
    return [
        ("code", _code_lines(code_roots)),
        ("settings", (f"{k}={v}" for k, v in sorted(os.environ.items())
                      if k.startswith("DIPLO_") and k not in RESOURCE_SETTINGS | HOST_SETTINGS)),
    ]


def code_and_settings(code_roots: Iterable[Path] = (PACKAGE, SQL_ROOT)) -> str:
    """The fingerprint of the code, the SQL and the DIPLO_* settings: what every derived table also depends on."""
    return fingerprint(_code_parts(code_roots))


def downstream_inputs(paths: DataPaths, code_roots: Iterable[Path] = (PACKAGE, SQL_ROOT)) -> str:
    """The fingerprint of everything the downstream phases read."""
    return fingerprint([
        # raw/sweeps is written by the downstream run itself, from the sweep files fingerprinted below
        ("raw", stat_lines(paths.raw, skip=("sweeps",))),
        ("sweeps", stat_lines(paths.sweep_dir) if paths.sweep_dir else ()),
        *_code_parts(code_roots),
    ])


def last_report(paths: DataPaths) -> dict[str, Any] | None:
    """What the last complete build reported, whatever it was made from."""
    last = read_json(state_path(paths), None)
    return last["report"] if last else None


def unchanged_since_last_build(paths: DataPaths, fingerprint: str) -> dict[str, Any] | None:
    """What the last complete build reported, when it was made from exactly these inputs and its catalog is
    still there; else None (build everything downstream)."""
    last = read_json(state_path(paths), None)
    if not last or last.get("inputs") != fingerprint or not paths.catalog.exists():
        return None
    return last["report"]


def record_build(paths: DataPaths, fingerprint: str, report: dict[str, Any]) -> None:
    """Keep what a complete build reported (check metadata that is not JSON is kept as its text)."""
    write_text_atomic(json.dumps({"inputs": fingerprint, "report": report}, indent=1, default=str), state_path(paths))


def forget_build(paths: DataPaths) -> None:
    """A build that did not finish cleanly is never reused: the next one builds everything downstream."""
    state_path(paths).unlink(missing_ok=True)
