"""The days staging has changed and no day rebuild has written yet (lake/_state/axiom_pending_days.json).

Staging marks a file's days pending before it writes that file's rows, and a day is cleared only once its
partition is rebuilt, so a build killed in between rebuilds the day next time instead of losing it."""

from __future__ import annotations

from pathlib import Path

from diplo_pipeline.lib.lake.io import read_json, write_json_atomic
from diplo_pipeline.lib.lake.state_lock import locked
from diplo_pipeline.lib.settings import DataPaths


def _pending_path(paths: DataPaths) -> Path:
    return paths.state / "axiom_pending_days.json"


def _pending(paths: DataPaths) -> dict[str, int]:
    """Days staged but not yet rebuilt, each with how many times it was marked (its generation)."""
    stored = read_json(_pending_path(paths), {})
    return {day: 0 for day in stored} if isinstance(stored, list) else stored  # a list: before generations


def pending_days(paths: DataPaths) -> list[str]:
    """Days staged but not yet rebuilt (kept on disk so an interrupted build picks them up again)."""
    return sorted(_pending(paths))


def pending_snapshot(paths: DataPaths) -> dict[str, int]:
    """Take before rebuilding days, and hand to `mark_days_built` after."""
    return _pending(paths)


def mark_days_pending(paths: DataPaths, days: set[str]) -> None:
    with locked(_pending_path(paths)):
        pending = _pending(paths)
        for day in days:
            pending[day] = pending.get(day, 0) + 1
        write_json_atomic(dict(sorted(pending.items())), _pending_path(paths))


def mark_days_built(paths: DataPaths, days: set[str], snapshot: dict[str, int] | None = None) -> None:
    """Days rebuilt are pending no more, unless staging marked them again during the rebuild (their
    generation moved past `snapshot`): the rows staged then were not in it."""
    with locked(_pending_path(paths)):
        pending = _pending(paths)
        for day in days:
            if snapshot is None or pending.get(day) == snapshot.get(day):
                pending.pop(day, None)
        write_json_atomic(dict(sorted(pending.items())), _pending_path(paths))
