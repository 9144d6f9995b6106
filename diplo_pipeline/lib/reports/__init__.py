"""The report files of WAREHOUSE.md "Reports", rendered from the warehouse tables.

`runs/<run_name>.html|.md|.png`, `sweeps/<sweep_name>.html`, `nightly/<YYYY-MM-DD>.html` with
`nightly/latest.html`, and `tracker.md`, all under `<data>/reports/`. Every renderer takes a `Warehouse`
(a DuckDB connection with the tables under their plain names) and the reports folder, and returns what it
wrote, left unchanged or removed.

The renderers are imported when first used, not with the package: `diplo report` names a page through
`lib/reports/names.py` and must not pay for Altair and vl-convert (most of a second) to do it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from diplo_pipeline.lib.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from diplo_pipeline.lib.reports.data import Warehouse
    from diplo_pipeline.lib.reports.nightly import render_nightly_digest
    from diplo_pipeline.lib.reports.output import PagesWritten
    from diplo_pipeline.lib.reports.runs import render_run_reports
    from diplo_pipeline.lib.reports.sweeps import render_sweep_reports
    from diplo_pipeline.lib.reports.tracker import render_tracker

# What the package offers -> the module that defines it.
_EXPORTS = {
    "PagesWritten": "output",
    "Warehouse": "data",
    "render_nightly_digest": "nightly",
    "render_run_reports": "runs",
    "render_sweep_reports": "sweeps",
    "render_tracker": "tracker",
}

__all__ = [
    "PagesWritten",
    "Warehouse",
    "render_nightly_digest",
    "render_run_reports",
    "render_sweep_reports",
    "render_tracker",
]


__getattr__, __dir__ = lazy_exports(__name__, __name__, _EXPORTS)
