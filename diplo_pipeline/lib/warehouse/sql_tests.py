"""What the blocking SQL tests last found, kept beside the lake, and the last good version of each table.

The Dagster step that runs a table's data tests (defs/warehouse/data_tests.py) records their outcomes here, in
`lake/_state/sql_tests/<test>.json`, so the catalog builder (lib/warehouse/catalog.py) can read it without Dagster.
An outcome names the file it was found on (inode, size, mtime), so an outcome always refers to one version
of the table and a rebuilt table is never judged by an older version's test.

When every test guarding a table model (or a Python mart) has passed on its current file,
`<model>.good.parquet` becomes a hard link to that file. Materialising the model later replaces
`<model>.parquet` by rename (a new inode), so the link keeps the good bytes at no cost: it is what the catalog
serves while a newer version fails a test. A partitioned model's version is the set of its partition files,
and its last good version a folder `<model>.good/` of links to them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from diplo_pipeline.lib.lake.io import (
    read_json,
    replace_folder_with_links,
    replace_with_link,
    same_file,
    write_text_atomic,
)
from diplo_pipeline.lib.warehouse.sql_project import Project
from diplo_pipeline.lib.warehouse.sql_runner import PYTHON_MARTS, model_path, partition_files, python_mart_path


@dataclass(frozen=True)
class CheckOutcome:
    test: str
    table: str  # the table the test guards (Project.test_target)
    offending_rows: int
    first_rows: list[dict[str, Any]]
    file: dict[str, int] | None  # the version of the table's Parquet it ran on; None for a view

    @property
    def passed(self) -> bool:
        return self.offending_rows == 0


def outcome_path(lake: Path, test: str) -> Path:
    return lake / "_state" / "sql_tests" / f"{test}.json"


def _tested_file(lake: Path, project: Project, table: str) -> Path | None:
    """The Parquet file of a table model or a Python mart; None for a view (or a source)."""
    if table in PYTHON_MARTS:
        return python_mart_path(lake, table)
    model = project.models.get(table)
    return model_path(lake, model) if model is not None and model.materialized == "table" else None


def good_path(lake: Path, project: Project, table: str) -> Path:
    current = _tested_file(lake, project, table)
    if current is None:
        raise ValueError(f"{table} is not written to a file of its own: it keeps no last good version")
    return current.with_name(f"{table}.good.parquet" if current.suffix == ".parquet" else f"{table}.good")


def _stat_version(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"inode": stat.st_ino, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def file_version(path: Path) -> dict[str, Any] | None:
    """What tells one version of a file from the next: every write of a model is a new file renamed in. For a
    partitioned table's folder, the versions of all its partition files."""
    try:
        if path.is_dir():
            return {"partitions": {p.name: _stat_version(p) for p in partition_files(path)}}
        return _stat_version(path)
    except FileNotFoundError:
        return None


def version_mtime_ns(path: Path) -> int:
    """When a table's current version was written: its file's mtime, or its newest partition file's."""
    if path.is_dir():
        return max((p.stat().st_mtime_ns for p in partition_files(path)), default=path.stat().st_mtime_ns)
    return path.stat().st_mtime_ns


def _plain(value: Any) -> Any:
    """A value of an offending row as JSON can hold it (timestamps as ISO text, decimals as floats)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def record_outcomes(lake: Path, project: Project, table: str,
                    found: list[tuple[str, int, list[dict[str, Any]]]]) -> list[CheckOutcome]:
    """Keep what each test of `table` found, as (test, offending rows, first rows), on the table's current
    version; then keep that version if all its tests pass (once for the table, not once a test)."""
    tested = _tested_file(lake, project, table)
    version = file_version(tested) if tested else None
    outcomes = []
    for test, offending_rows, first_rows in found:
        outcome = CheckOutcome(
            test=test,
            table=table,
            offending_rows=offending_rows,
            first_rows=[{str(k): _plain(v) for k, v in row.items()} for row in first_rows],
            file=version,
        )
        # Not write_json_atomic: it sorts keys, and the offending rows read best in the test's column order.
        write_text_atomic(json.dumps(asdict(outcome), indent=1), outcome_path(lake, test))
        outcomes.append(outcome)
    if tested is not None:
        keep_last_good(lake, project, table, fresh=outcomes)
    return outcomes


def record_outcome(lake: Path, project: Project, test: str, offending_rows: int,
                   first_rows: list[dict[str, Any]]) -> CheckOutcome:
    """Keep what `test` found on the current version of its table; keep that version if all its tests pass."""
    return record_outcomes(lake, project, project.test_target(test), [(test, offending_rows, first_rows)])[0]


def read_outcome(lake: Path, test: str) -> CheckOutcome | None:
    stored = read_json(outcome_path(lake, test), None)
    return CheckOutcome(**stored) if stored else None


def current_failures(lake: Path, project: Project, table: str) -> list[CheckOutcome]:
    """The tests that failed on the version of `table` the lake holds now."""
    tested = _tested_file(lake, project, table)
    version = file_version(tested) if tested else None
    outcomes = [read_outcome(lake, test) for test in project.tests_of(table)]
    return [o for o in outcomes if o is not None and not o.passed and o.file == version]


def keep_last_good(lake: Path, project: Project, model: str, fresh: Iterable[CheckOutcome] = ()) -> bool:
    """Link `<model>.good.parquet` to the current file when every test guarding the model passed on it.
    `fresh`: outcomes just recorded, used as they are rather than read back from the lake."""
    current = _tested_file(lake, project, model)
    version = file_version(current) if current is not None else None
    if version is None:
        return False
    known = {outcome.test: outcome for outcome in fresh}
    for test in project.tests_of(model):
        outcome = known[test] if test in known else read_outcome(lake, test)
        if outcome is None or not outcome.passed or outcome.file != version:
            return False
    good = good_path(lake, project, model)
    if current.is_dir():
        if file_version(good) != file_version(current):
            replace_folder_with_links(partition_files(current), good)
        return True
    if not (good.exists() and same_file(good, current)):
        replace_with_link(current, good)
    return True
