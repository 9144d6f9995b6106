"""The demo warehouse built once per test session and shared by every pytest-xdist worker.

Building the demo takes about a minute; each worker building its own costs that minute again on a
two-core machine. The first worker to get here generates the demo and builds it (twice: the second build
must be a no-op), under a file lock in the session's shared temp folder; the others wait for the lock and
reuse what it wrote. The generated inbox is also kept between sessions in a cache keyed on everything
that decides its content (the generator's source, the seed, the WandB SDK's version), so a developer's
second `make test` skips the SDK writing; the build itself always runs, because it is what is tested.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
import shutil
from importlib.metadata import version
from pathlib import Path

from diplo_pipeline.lib.settings import DataPaths

DEMO_PACKAGE = Path(__file__).resolve().parents[2] / "diplo_pipeline" / "demo"


def generator_key(seed: int) -> str:
    """Changes whenever the demo the generator would write could change."""
    digest = hashlib.sha256(f"seed={seed};wandb={version('wandb')}".encode())
    for path in sorted(DEMO_PACKAGE.rglob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    return Path(os.environ.get("DIPLO_TEST_CACHE") or Path.home() / ".cache" / "diplo-pipeline-tests")


def _generated_inbox(inbox: Path, seed: int) -> None:
    """Write the demo inbox at `inbox`, copying it from the cache when the generator is unchanged."""
    from diplo_pipeline.demo import generate_demo

    cached = cache_root() / f"demo-{generator_key(seed)}"
    if (cached / "manifest.json").exists():
        shutil.copytree(cached, inbox, symlinks=True, copy_function=shutil.copy2)  # copy2 keeps the mtimes
        return
    generate_demo(inbox, seed=seed)
    staging = cached.with_name(f".{cached.name}.{os.getpid()}")
    try:
        shutil.copytree(inbox, staging, symlinks=True, copy_function=shutil.copy2)
        os.replace(staging, cached)  # whole or not at all: a half-written cache is never read
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # no cache (read-only home, a racing session): fine


def shared_demo(shared_dir: Path, seed: int):
    """(paths, inbox, first build report, second build report), building them if no worker has yet."""
    shared_dir.mkdir(parents=True, exist_ok=True)
    root = shared_dir / "demo"
    inbox, done = root / "inbox", root / "reports.pickle"
    paths = DataPaths(root / "data", (inbox / "wandb",), (inbox / "axiom",), inbox / "sweeps")
    with open(shared_dir / ".demo.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other workers wait here while one builds
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)  # a worker that died mid-build left a partial one
            _generated_inbox(inbox, seed)
            reports = _build_twice(paths, inbox)
            done.write_bytes(pickle.dumps(reports))
    first, again = pickle.loads(done.read_bytes())
    return paths, inbox, first, again


def _build_twice(paths: DataPaths, inbox: Path):
    import dagster as dg
    import pytest

    from diplo_pipeline.build import build
    from diplo_pipeline.definitions import defs

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIPLO_DATA_DIR", str(paths.data_dir))
        mp.setenv("DIPLO_WANDB_DIR", str(inbox / "wandb"))
        mp.setenv("DIPLO_AXIOM_DIR", str(inbox / "axiom"))
        mp.setenv("DIPLO_SWEEP_DIR", str(inbox / "sweeps"))
        with dg.DagsterInstance.ephemeral() as inst:
            report = build(defs(), inst, paths)
            again = build(defs(), inst, paths)
    return report, again
