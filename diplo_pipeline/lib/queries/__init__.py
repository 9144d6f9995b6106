"""The questions the `diplo` CLI answers, as plain functions over a read-only catalog connection.

Each returns an `Answer`: the whole answer as JSON-ready data, and its main table as flat rows. Nothing
here imports Dagster or the WandB SDK, so an answer costs a DuckDB connection and a few small queries.
"""

from diplo_pipeline.lib.queries.artifacts import run_artifacts
from diplo_pipeline.lib.queries.baselines import baseline_comparison
from diplo_pipeline.lib.queries.core import (
    Answer,
    QueryError,
    RunRef,
    connect,
    jsonable,
    resolve_run,
    resolve_sweep,
)
from diplo_pipeline.lib.queries.findings import SEVERITIES, report_location, run_findings
from diplo_pipeline.lib.queries.league import elo_analysis, run_set_comparison, sweep_comparison
from diplo_pipeline.lib.queries.pipeline import (
    cache_stats,
    errors,
    events,
    extraction_stats,
    health,
    inference_stats,
    parse_window,
    rollout_timing,
)
from diplo_pipeline.lib.queries.runs import (
    X_AXES,
    compare_runs,
    export_run,
    list_runs,
    metric_keys,
    run_metrics,
    show_run,
)

__all__ = [
    "run_artifacts",
    "SEVERITIES",
    "X_AXES",
    "Answer",
    "QueryError",
    "RunRef",
    "baseline_comparison",
    "cache_stats",
    "compare_runs",
    "connect",
    "elo_analysis",
    "errors",
    "events",
    "export_run",
    "extraction_stats",
    "health",
    "inference_stats",
    "jsonable",
    "list_runs",
    "metric_keys",
    "parse_window",
    "report_location",
    "resolve_run",
    "resolve_sweep",
    "rollout_timing",
    "run_findings",
    "run_metrics",
    "show_run",
    "run_set_comparison",
    "sweep_comparison",
]
