"""Which partitions of the partitioned models are out of date, so a build computes those and only those.

A model whose YAML names a `partitioned_by` dimension (run_id, day) computes each partition from that
partition's source files alone (Project.check_partitioning), so a partition is up to date when its source files and the
code are what they were when it was last built. What each partition was built from is kept in
`lake/_state/partitions/<dimension>.json` (key -> fingerprint); a build materialises the keys whose fingerprint
differs, and records them once their run succeeded. A key whose source files are gone (a run removed) is
stale until its partition files are deleted. Deleting the state file rebuilds every partition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from diplo_pipeline.lib.lake.io import file_stats, read_json, write_json_atomic
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.warehouse.sql_project import Project
from diplo_pipeline.lib.warehouse.sql_runner import model_path, partition_file, partition_files


def state_path(paths: DataPaths, dimension: str) -> Path:
    return paths.state / "partitions" / f"{dimension}.json"


def _sources(project: Project, dimension: str):
    return [s for s in project.sources.values() if s.partitioned_by == dimension]


def source_keys(project: Project, lake: Path, dimension: str) -> set[str]:
    """Every key some source partitioned by `dimension` holds a file for."""
    keys: set[str] = set()
    for source in _sources(project, dimension):
        pattern = lake / source.path
        keys |= {path.name.removesuffix(pattern.suffix) for path in pattern.parent.glob(pattern.name)}
    return keys


def present_keys(project: Project, lake: Path, dimension: str, keys: Iterable[str]) -> list[str]:
    """The keys among `keys` that still have source files (the others' partitions are to be removed)."""
    sources, keys = _sources(project, dimension), list(keys)
    stats = file_stats((lake / s.partition_path(k) for k in keys for s in sources), existence_only=True)
    return [k for k in keys if any(stats[lake / s.partition_path(k)] is not None for s in sources)]


def key_fingerprints(project: Project, lake: Path, dimension: str, keys: Iterable[str], code: str) -> dict[str, str]:
    """key -> what its partition is computed from: its source files (each rewritten atomically, so size and
    modification time change with the content) and the code and settings (`code`)."""
    sources, keys = _sources(project, dimension), list(keys)
    stats = file_stats(lake / s.partition_path(k) for k in keys for s in sources)
    out = {}
    for key in keys:
        digest = hashlib.sha256(code.encode())
        for source in sources:
            stat = stats[lake / source.partition_path(key)]
            digest.update(f"{source.name}\0{stat and stat.st_size}\0{stat and stat.st_mtime_ns}\n".encode())
        out[key] = digest.hexdigest()
    return out


def plan(paths: DataPaths, project: Project, dimension: str, code: str) -> dict[str, str]:
    """The keys to build (key -> the fingerprint to record once built): new, changed or removed ones."""
    built = read_json(state_path(paths, dimension), {})
    # also any key a partition file exists for (written by automation, or after the state was deleted): a key
    # whose sources are gone must have its files removed
    written = {path.stem for name in project.partitioned_models(dimension)
               for path in partition_files(model_path(paths.lake, project.models[name]))}
    keys = source_keys(project, paths.lake, dimension) | set(built) | written
    fingerprints = key_fingerprints(project, paths.lake, dimension, sorted(keys), code)
    return {key: fp for key, fp in fingerprints.items() if built.get(key) != fp}


def record(paths: DataPaths, project: Project, dimension: str, built: dict[str, str]) -> None:
    """Keep what the keys of `built` were computed from; a key whose sources are gone is forgotten."""
    state = read_json(state_path(paths, dimension), {})
    present = set(present_keys(project, paths.lake, dimension, built))
    for key, fingerprint in built.items():
        if key in present:
            state[key] = fingerprint
        else:
            state.pop(key, None)
    write_json_atomic(state, state_path(paths, dimension))



def key_files(project: Project, lake: Path, dimension: str, key: str) -> list[Path]:
    """Every file that holds partition `key`'s rows: its source files and the files of the partitioned tables
    (views read those)."""
    tables = [project.models[name] for name in project.partitioned_models(dimension)]
    return ([lake / s.partition_path(key) for s in _sources(project, dimension)]
            + [partition_file(lake, m, key) for m in tables if m.materialized == "table"])


def built_fingerprints(project: Project, lake: Path, dimension: str, keys: Iterable[str]) -> dict[str, str]:
    """key -> the fingerprint of what its partition holds now (every file of `key_files`, by size and
    modification time: each is written atomically, and only when its key is rebuilt). A reader of one key's
    rows (a run's report page, its findings) is up to date when this is what it last read."""
    files = {key: key_files(project, lake, dimension, key) for key in keys}
    stats = file_stats(path for paths in files.values() for path in paths)
    out = {}
    for key, paths in files.items():
        digest = hashlib.sha256()
        for path in paths:
            stat = stats[path]
            where = path.relative_to(lake)
            digest.update(f"{where}\0{stat and stat.st_size}\0{stat and stat.st_mtime_ns}\n".encode())
        out[key] = digest.hexdigest()
    return out
