"""Kill Axiom ingestion with SIGKILL at each of its writes, to prove any crash point converges.

Every write into the lake, its state files and the quarantine goes through `lake.write_*_atomic`, which
renames a finished temporary file into place with `os.replace`. Run as

    python -m tests.helpers.axiom_kill <axiom inbox> <data dir> <n> [<data dir> <n> ...]

this process imports everything once, then for each data dir forks a child that runs `ingest` (what the
two Dagster assets do, without Dagster) and SIGKILLs itself just before its n-th rename, leaving that
write's temporary file behind as a real crash mid-write would. It prints, per data dir, whether the
child was killed (`n` was reached) or finished. Forking from this fresh interpreter (which has opened no
DuckDB connection and started no threads) is what makes one kill cost milliseconds, not an interpreter.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from diplo_pipeline.lib.axiom import day_partitions, pending_days, staging
from diplo_pipeline.lib.settings import DataPaths


def paths_for(inbox: Path, data_dir: Path) -> DataPaths:
    return DataPaths(data_dir, (data_dir / "no-wandb",), (inbox,), data_dir / "no-sweeps")


def ingest(paths: DataPaths) -> None:
    """Stage the exports, then rebuild every pending day, as `axiom_export_files` and `axiom_events` do."""
    staging.stage_exports(paths)
    days = pending_days.pending_days(paths)
    snapshot = pending_days.pending_snapshot(paths)
    day_partitions.build_days(paths, days)
    pending_days.mark_days_built(paths, set(days), snapshot)
    day_partitions.remove_stale_days(paths)


def _die_at(n: int) -> None:
    real, calls = os.replace, [0]

    def replace(src, dst):
        calls[0] += 1
        if calls[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst)

    os.replace = replace


def count_writes(inbox: Path, data_dir: Path) -> int:
    """How many renames one run of `ingest` makes (run in this process: it only counts)."""
    real, calls = os.replace, [0]

    def replace(src, dst):
        calls[0] += 1
        return real(src, dst)

    os.replace = replace
    try:
        ingest(paths_for(inbox, data_dir))
    finally:
        os.replace = real
    return calls[0]


def main(argv: list[str]) -> None:
    inbox, pairs = Path(argv[0]), argv[1:]
    outcome = {}
    for data_dir, n in zip(pairs[::2], pairs[1::2], strict=True):
        pid = os.fork()
        if pid == 0:
            _die_at(int(n))
            ingest(paths_for(inbox, Path(data_dir)))
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        outcome[data_dir] = "killed" if killed else f"exit {os.waitstatus_to_exitcode(status)}"
    print(json.dumps(outcome))


if __name__ == "__main__":
    main(sys.argv[1:])
