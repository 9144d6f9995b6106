"""What the catalog serves for each relation, and why: the current version, the last good one, or nothing.

A blocking data test that fails stops what depends on its table, never the whole warehouse. The catalog is
published anyway, from what the lake holds and what the tests found (lib/warehouse/sql_tests.py):
- `current`: the table as last built (or the view over what it reads);
- `last_good`: the table's new version failed a test; the catalog reads the last version that passed;
- `previous`: not rebuilt because something upstream failed a test; the version built before is served;
- `left_out`: a failed test and no version that passed (a view keeps no earlier version), built on
  something left out, or never built.
The reasons become the `catalog_status` table, and `diplo build` prints the ones that are not `current`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from diplo_pipeline.lib.warehouse.sql_project import Project
from diplo_pipeline.lib.warehouse.sql_runner import PYTHON_MARTS, model_path, python_mart_path
from diplo_pipeline.lib.warehouse.sql_tests import (
    CheckOutcome,
    current_failures,
    good_path,
    outcome_path,
    version_mtime_ns,
)

STATUS_SCHEMA = pa.schema(
    [
        ("relation", pa.string()),
        ("kind", pa.string()),  # source | view | table | python
        ("served", pa.string()),  # current | last_good | previous | left_out
        ("reason", pa.string()),
        ("failed_check", pa.string()),  # the relation's own data test that failed
        ("offending_rows", pa.int64()),
        ("first_rows", pa.string()),  # JSON: the first offending rows
        ("file", pa.string()),  # the Parquet file the catalog reads
    ]
)


@dataclass(frozen=True)
class Blocker:
    """A failed test at or above a relation: what the relation's own version is judged against."""

    outcome: CheckOutcome
    since_ns: int  # when the test found the rows (its outcome file's mtime)

    def describe(self) -> str:
        rows = self.outcome.offending_rows
        return f"{self.outcome.table} failed {self.outcome.test} ({rows} offending row{'s' * (rows != 1)})"


@dataclass(frozen=True)
class RelationStatus:
    relation: str
    kind: str
    served: str
    reason: str | None = None
    outcome: CheckOutcome | None = None  # the relation's own failed test
    path: Path | None = None
    blockers: tuple[Blocker, ...] = field(default=(), compare=False)

    @property
    def in_catalog(self) -> bool:
        return self.served != "left_out"

    def row(self) -> dict[str, Any]:
        return {
            "relation": self.relation,
            "kind": self.kind,
            "served": self.served,
            "reason": self.reason,
            "failed_check": self.outcome.test if self.outcome else None,
            "offending_rows": self.outcome.offending_rows if self.outcome else None,
            "first_rows": json.dumps(self.outcome.first_rows) if self.outcome else None,
            "file": str(self.path) if self.path else None,
        }


def _blockers(lake: Path, failures: list[CheckOutcome]) -> list[Blocker]:
    return [Blocker(o, outcome_path(lake, o.test).stat().st_mtime_ns) for o in failures]


def _built_at(path: Path) -> str:
    moment = dt.datetime.fromtimestamp(version_mtime_ns(path) / 1e9, dt.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _own_failure(name: str, kind: str, failures: list[CheckOutcome], good: Path | None,
                 blockers: tuple[Blocker, ...]) -> RelationStatus:
    first = failures[0]
    found = "; ".join(f"{o.test} found {o.offending_rows} offending row{'s' * (o.offending_rows != 1)}"
                      for o in failures)
    if good is not None and good.exists():
        return RelationStatus(name, kind, "last_good", f"{found} in its new version: serving the last version "
                              f"that passed (built {_built_at(good)})", first, good, blockers)
    kept = "no earlier version passed" if good is not None else f"a {kind} keeps no earlier version"
    return RelationStatus(name, kind, "left_out", f"{found}; {kept}", first, None, blockers)


def _file_status(name: str, kind: str, path: Path, blockers: tuple[Blocker, ...],
                 left_out_deps: list[str]) -> RelationStatus:
    """A table or Python mart with no failed test of its own: served as its file stands, if there is one (a
    partitioned table that has none yet is served with no rows)."""
    if not path.exists() and path.suffix != ".parquet" and not blockers and not left_out_deps:
        return RelationStatus(name, kind, "current", None, None, path, blockers)
    if not path.exists():
        if blockers:
            reason = f"never built: {blockers[0].describe()}, so it was not built on top"
        elif left_out_deps:
            reason = f"never built: it reads {', '.join(left_out_deps)}, which the catalog leaves out"
        else:
            reason = "never built: its asset has not been materialised yet"
        return RelationStatus(name, kind, "left_out", reason, None, None, blockers)
    built_ns = version_mtime_ns(path)
    stale = [b for b in blockers if built_ns < b.since_ns]
    if stale:
        return RelationStatus(name, kind, "previous", f"not rebuilt since {stale[0].describe()}: serving the "
                              f"version built {_built_at(path)}", None, path, blockers)
    if blockers:
        return RelationStatus(name, kind, "current", f"built after {blockers[0].describe()}: it may include "
                              "those rows", None, path, blockers)
    return RelationStatus(name, kind, "current", None, None, path, blockers)


def _unique(blockers: list[Blocker]) -> tuple[Blocker, ...]:
    return tuple({b.outcome.test: b for b in blockers}.values())


def plan_catalog(project: Project, lake: Path) -> dict[str, RelationStatus]:
    """The status of every source, model and Python mart, in build order."""
    lake = lake.resolve()
    plan: dict[str, RelationStatus] = {}
    for name in project.sources:
        failures = current_failures(lake, project, name)
        blockers = tuple(_blockers(lake, failures))
        plan[name] = (_own_failure(name, "source", failures, None, blockers) if failures
                      else RelationStatus(name, "source", "current", blockers=blockers))
    for name in project.order():
        model = project.models[name]
        deps = [d for d in model.table_names if d in plan]
        failures = current_failures(lake, project, name)
        blockers = _unique([b for d in deps for b in plan[d].blockers] + _blockers(lake, failures))
        left_out = [d for d in deps if not plan[d].in_catalog]
        if model.materialized == "view":
            if failures:
                plan[name] = _own_failure(name, "view", failures, None, blockers)
            elif left_out:
                plan[name] = RelationStatus(name, "view", "left_out", f"it reads {', '.join(left_out)}, which "
                                            "the catalog leaves out", None, None, blockers)
            else:
                plan[name] = RelationStatus(name, "view", "current", None, None, None, blockers)
        elif failures:
            plan[name] = _own_failure(name, "table", failures, good_path(lake, project, name), blockers)
        else:
            plan[name] = _file_status(name, "table", model_path(lake, model), blockers, left_out)
    for name, inputs in PYTHON_MARTS.items():
        failures = current_failures(lake, project, name)  # its own data tests (the YAML's generic tests)
        blockers = _unique([b for d in inputs if d in plan for b in plan[d].blockers] + _blockers(lake, failures))
        left_out = [d for d in inputs if d in plan and not plan[d].in_catalog]
        plan[name] = (_own_failure(name, "python", failures, good_path(lake, project, name), blockers) if failures
                      else _file_status(name, "python", python_mart_path(lake, name), blockers, left_out))
    return plan


def status_table(plan: dict[str, RelationStatus]) -> pa.Table:
    return pa.Table.from_pylist([status.row() for status in plan.values()], schema=STATUS_SCHEMA)


def problems(plan: dict[str, RelationStatus]) -> list[dict[str, Any]]:
    """The rows a person must hear about: everything not served as current, or served with a caveat."""
    return [status.row() for status in plan.values() if status.served != "current" or status.reason]
