"""The report files of WAREHOUSE.md "Reports", rendered from the warehouse tables.

`runs/<run_name>.html|.md|.png`, `sweeps/<sweep_name>.html`, `nightly/<YYYY-MM-DD>.html` with
`nightly/latest.html`, and `tracker.md`, all under `<data>/reports/`. Every renderer takes a `Warehouse`
(a DuckDB connection with the tables under their plain names) and the reports folder, and returns what it
wrote, left unchanged or removed.
"""

from diplo_pipeline.lib.reports.data import Warehouse
from diplo_pipeline.lib.reports.nightly import render_nightly_digest
from diplo_pipeline.lib.reports.output import PagesWritten
from diplo_pipeline.lib.reports.runs import render_run_reports
from diplo_pipeline.lib.reports.sweeps import render_sweep_reports
from diplo_pipeline.lib.reports.tracker import render_tracker

__all__ = [
    "PagesWritten",
    "Warehouse",
    "render_nightly_digest",
    "render_run_reports",
    "render_sweep_reports",
    "render_tracker",
]
