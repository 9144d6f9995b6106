"""Which of the whole (unpartitioned) downstream assets are out of date, so a build runs only those.

Each asset's inputs have a fingerprint, built like a Merkle tree over the asset graph: a raw source's is the
listing of its files (size and modification time: every write is a new file renamed in), a partitioned
table's is the listing of its partition files (lib/warehouse/partitions.py writes them), and any other
asset's (a partitioned view's too) is the hash of the code and settings with the fingerprints of the assets
it reads. An asset is stale when that fingerprint differs from the one it was last built from
(`lake/_state/assets.json`; a host's own reports and catalog in its data dir's `_state/` when the lake is
in a bucket), so a new WandB run rebuilds what reads runs and leaves the tables of Axiom events alone.
Nothing here knows Dagster: the graph comes in as plain names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container, Iterable, Mapping
from pathlib import Path

from diplo_pipeline.lib.lake.io import read_json, write_json_atomic
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.warehouse import build_state


def state_path(paths: DataPaths, host_local: bool = False) -> Path:
    """Where the assets' record lives: the lake's state, or, for an asset whose output is on this host (its
    reports, its copy of the catalog), the host's (the same file unless the lake is in a bucket)."""
    return (paths.host_state if host_local else paths.state) / "assets.json"


def files_fingerprint(roots: Iterable[Path], named: bool = True) -> str:
    """The listing of every file under `roots`: path, size and modification time; with `named`, where the
    roots are too (not for a host's own folder, such as its sweep files: two hosts holding the same files
    agree)."""
    return build_state.fingerprint((str(root) if named else str(i), build_state.stat_lines(root))
                                   for i, root in enumerate(roots))


def fingerprints(
    order: Iterable[str], parents: Mapping[str, Iterable[str]], given: Mapping[str, str], code: str
) -> dict[str, str]:
    """Every asset's inputs fingerprint, in graph `order` (parents first); `given` holds the assets whose
    fingerprint is known directly (raw sources, partitioned tables), and a parent outside both counts as
    nothing (an upstream phase's bookkeeping asset)."""
    found = dict(given)
    for asset in order:
        if asset in found:
            continue
        digest = hashlib.sha256(code.encode())
        for parent in sorted(parents.get(asset, ())):
            digest.update(f"{parent}\0{found.get(parent, '')}\n".encode())
        found[asset] = digest.hexdigest()
    return found


def stale(paths: DataPaths, current: Mapping[str, str], assets: Iterable[str],
          host_local: Container[str] = ()) -> list[str]:
    """The assets among `assets` whose inputs changed since they were last built (or never were); those in
    `host_local` as this host last built them."""
    where = {local: state_path(paths, local) for local in (False, True)}  # one file unless the lake is in a bucket
    built = {path: read_json(path, {}) for path in set(where.values())}
    return [asset for asset in assets if built[where[asset in host_local]].get(asset) != current[asset]]


def record(paths: DataPaths, current: Mapping[str, str], built: Iterable[str],
           host_local: Container[str] = ()) -> None:
    """Keep what the assets in `built` (materialised successfully) were computed from."""
    by_file: dict[Path, list[str]] = {}
    for asset in built:
        by_file.setdefault(state_path(paths, asset in host_local), []).append(asset)
    for path, assets in by_file.items():
        state = read_json(path, {})
        state.update({asset: current[asset] for asset in assets})
        write_json_atomic(state, path)
