"""Axiom day partitions: rebuild a UTC day of raw events from every staged file that touches it.

A day keeps one row per `event_id`, so the same event in two overlapping exports (or an export and a
fetched API day) is stored once, and removing an export removes only what it alone held. Staging (which
writes the staged files and their index) is lib/axiom/staging.py."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from diplo_pipeline.lib.axiom.schema import EVENTS_SCHEMA
from diplo_pipeline.lib.axiom.staging import index_path, staged_days, staged_dir
from diplo_pipeline.lib.lake.duck import duckdb_session
from diplo_pipeline.lib.lake.io import read_json, read_parquet, write_parquet_atomic
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
    if not groups:
        return counts
    with duckdb_session() as con:  # bounded, UTC, the lake's storage; closed on exit
        zone = con.execute("select current_setting('TimeZone')").fetchone()[0]
        with ThreadPoolExecutor(max_workers=2) as writers:  # Parquet encoding releases the GIL
            for sources, group_days in groups.items():
                table = _first_copies(list(sources), group_days, zone)
                if table is None:
                    table = _first_copies_sql(con, list(sources), group_days)
                written = [writers.submit(write_parquet_atomic, part, events_dir(paths) / f"{day}.parquet")
                           for day, part in _by_day(table, group_days)]
                for future in written:
                    future.result()
                counts.update(_counted(table, group_days))
    return counts


_ORDER = "order by day, event_time, event_id"  # with one row per event_id, a total order


def _first_copies_sql(con: duckdb.DuckDBPyConnection, sources: list[str], days: list[str]) -> pa.Table:
    """One row per event_id: the first copy in a stable order (file, locator) so rebuilds are
    reproducible. The narrow pass picks each first copy by its physical place (file and row number in the
    staged Parquet), so even two copies at one locator cannot both get through; then the wide rows are
    fetched once (3x faster than ranking the wide rows)."""
    return con.execute(
        f"""
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
        {_ORDER}
        """,
        {"sources": sources, "days": days},
    ).to_arrow_table()


def _first_copies(sources: list[str], days: list[str], zone: str) -> pa.Table | None:
    """What `_first_copies_sql` gives, computed in Arrow, when every staged file holds exactly the staged
    columns (else None: the SQL unites files by column name). The same rows in the same order, with
    `event_time` in the zone DuckDB hands timestamps out in, so the day files are the same either way."""
    tables = [read_parquet(source) for source in sources]
    if not all(table.schema.equals(EVENTS_SCHEMA) for table in tables):
        return None
    # The copy order of the SQL: file name, then row within the file (sources are sorted by name).
    table = pa.concat_tables(tables)
    place = pa.concat_arrays([pa.array(np.arange(t.num_rows, dtype=np.int64) + (i << 40)) for i, t in
                              enumerate(tables)]) if len(tables) > 1 else pa.array(np.arange(table.num_rows))
    wanted = pc.is_in(table["day"], value_set=pa.array(days, pa.string()))
    table = table.append_column("_place", place).filter(wanted)
    if pc.count_distinct(table["event_id"]).as_py() != table.num_rows:
        ranked = table.take(pc.sort_indices(table, sort_keys=[
            ("event_id", "ascending"), ("source_file", "ascending"), ("source_line", "ascending"),
            ("_place", "ascending")]))
        ids = ranked["event_id"].combine_chunks()
        first = pc.not_equal(ids[1:], ids[:-1]) if len(ids) > 1 else pa.array([], pa.bool_())
        table = ranked.filter(pa.concat_arrays([pa.array([True] * min(len(ids), 1)), first]))
    table = table.drop_columns(["_place"])
    table = table.take(pc.sort_indices(table, sort_keys=[
        ("day", "ascending"), ("event_time", "ascending"), ("event_id", "ascending")]))
    zoned = EVENTS_SCHEMA.set(EVENTS_SCHEMA.get_field_index("event_time"),
                              pa.field("event_time", pa.timestamp("us", tz=zone)))
    return table.cast(zoned)


def _by_day(table: pa.Table, days: list[str]) -> list[tuple[str, pa.Table]]:
    """Each day's rows of a table ordered by day (empty for a day it does not hold)."""
    counts = dict(_counted(table, days))
    starts = {}
    offset = 0
    for day in sorted(counts):
        starts[day] = offset
        offset += counts[day]
    return [(day, table.slice(starts[day], counts[day])) for day in days]


def _counted(table: pa.Table, days: list[str]) -> list[tuple[str, int]]:
    found = pc.value_counts(table["day"])
    held = dict(zip(found.field("values").to_pylist(), found.field("counts").to_pylist(), strict=True))
    return [(day, held.get(day, 0)) for day in days]


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
