"""A run's findings (the diagnosis mart) and where its report is."""

from __future__ import annotations

from pathlib import Path

import duckdb

from diplo_pipeline.lib.queries.core import Answer, QueryError, RunRef, fetch, has_table
from diplo_pipeline.lib.reports.names import run_page_names, run_report_files

SEVERITIES = ("info", "warn", "error")  # least severe first


def run_findings(con: duckdb.DuckDBPyConnection, run: RunRef, min_severity: str = "info") -> Answer:
    """The run's findings of at least `min_severity`, in step order, worst first within a step."""
    if not has_table(con, "findings"):
        raise QueryError(
            "this catalog has no `findings` table: it was built before the diagnosis mart existed, "
            "or that mart failed; run `diplo build` and look at its output"
        )
    wanted = list(SEVERITIES[SEVERITIES.index(min_severity):])
    rows = fetch(con, "cli/run_findings", {"run_id": run.run_id, "wanted": wanted, "severities": list(SEVERITIES)})
    counts = {severity: sum(row["severity"] == severity for row in rows) for severity in wanted}
    data = {"run_id": run.run_id, "run_name": run.run_name, "min_severity": min_severity, **counts,
            "findings": rows}
    return Answer(data, rows)


def report_location(con: duckdb.DuckDBPyConnection, run: RunRef, reports: Path) -> Answer:
    """Where the run's report is (WAREHOUSE.md: `<data>/reports/runs/<run_name>.html` and `.md`), named by
    the same rule the report asset writes it under (a hostile or shared name gets a hash or the run id)."""
    page = run_page_names(fetch(con, "cli/run_names"))[run.run_id]
    files = run_report_files(reports, page)
    html, markdown = files["html"], files["md"]
    data = {"run_id": run.run_id, "run_name": run.run_name, "html": str(html), "html_exists": html.exists(),
            "markdown": str(markdown), "markdown_exists": markdown.exists()}
    return Answer(data, [data])
