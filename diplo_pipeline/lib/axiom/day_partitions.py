"""Axiom day partitions: rebuild a UTC day of raw events from every staged file that touches it.

A day keeps one row per `event_id`, so the same event in two overlapping exports (or an export and a
fetched API day) is stored once, and removing an export removes only what it alone held. Staging (which
writes the staged files and their index) is lib/axiom/staging.py."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import duckdb
import pyarrow.compute as pc

from diplo_pipeline.lib.axiom.staging import index_path, staged_days, staged_dir
from diplo_pipeline.lib.lake.io import read_json, write_parquet_atomic
from diplo_pipeline.lib.settings import DataPaths


def events_dir(paths: DataPaths) -> Path:
    return paths.raw / "axiom" / "events"


def build_days(paths: DataPaths, days: list[str]) -> dict[str, int]:
    """Rebuild day partitions from the staged files that touch them; returns each day's row count.

    Days are grouped by the set of staged files that hold them, so every staged file is read once per
    group rather than once per day, and each day's file is still replaced atomically on its own.
    """
    index: dict[str, dict] = read_json(index_path(paths), {})
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    counts: dict[str, int] = {}
    for day in days:
        staged = staged_dir(paths)
        sources = tuple(sorted(str(staged / f"{e['key']}.parquet") for e in index.values() if day in e["days"]))
        if sources:
            groups[sources].append(day)
        else:
            (events_dir(paths) / f"{day}.parquet").unlink(missing_ok=True)
            counts[day] = 0
    con = duckdb.connect()
    try:
        con.execute("set enable_progress_bar = false")
        for sources, group_days in groups.items():
            # One row per event_id: the first copy in a stable order (file, locator) so rebuilds are
            # reproducible. The narrow pass picks each first copy by its physical place (file and row
            # number in the staged Parquet), so even two copies at one locator cannot both get through;
            # then the wide rows are fetched once (3x faster than ranking the wide rows).
            table = con.execute(
                """
                with copies as (
                    select
                        filename,
                        file_row_number,
                        row_number() over (
                            partition by event_id order by source_file, source_line, filename, file_row_number
                        ) as copy
                    from read_parquet($sources, union_by_name = true, filename = true, file_row_number = true)
                    where day in (select unnest($days))
                )
                select events.* exclude (filename, file_row_number)
                from read_parquet($sources, union_by_name = true, filename = true, file_row_number = true) as events
                semi join (select filename, file_row_number from copies where copy = 1) as first_copies
                    using (filename, file_row_number)
                where day in (select unnest($days))
                order by day, event_time, event_id
                """,
                {"sources": list(sources), "days": group_days},
            ).to_arrow_table()
            for day in group_days:
                part = table.filter(pc.equal(table["day"], day))
                write_parquet_atomic(part, events_dir(paths) / f"{day}.parquet")
                counts[day] = part.num_rows
    finally:
        con.close()
    return counts


def build_day(paths: DataPaths, day: str) -> int:
    return build_days(paths, [day])[day]


def remove_stale_days(paths: DataPaths) -> list[str]:
    """Delete day partitions that no staged file touches any more."""
    keep = staged_days(paths)
    removed = []
    for path in events_dir(paths).glob("*.parquet"):
        if path.stem not in keep:
            path.unlink()
            removed.append(path.stem)
    return removed
