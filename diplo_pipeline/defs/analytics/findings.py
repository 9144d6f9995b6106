"""The `findings` mart (WAREHOUSE.md) as a Dagster asset, and its check: every rule of
`diplo_pipeline/lib/analytics/findings/` over every run, computed again only for the runs whose inputs
changed (lib/analytics/findings/run_cache.py); the logic is in lib/."""

import hashlib
from contextlib import closing

import dagster as dg
import polars as pl

from diplo_pipeline.defs import pools
from diplo_pipeline.defs.asset_metadata import column_schema
from diplo_pipeline.defs.keys import FINDINGS
from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.defs.warehouse.project import PROJECT, asset_key, lake_connection
from diplo_pipeline.lib.analytics.findings import ERROR, INPUTS, WARN, findings_from, ordered, preview_rows
from diplo_pipeline.lib.analytics.findings.run_cache import cached_findings, record
from diplo_pipeline.lib.lake.io import read_parquet, write_parquet_atomic
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.warehouse.analyses import analysis
from diplo_pipeline.lib.warehouse.build_state import code_and_settings
from diplo_pipeline.lib.warehouse.partitions import built_fingerprints, source_keys
from diplo_pipeline.lib.warehouse.sql_runner import python_mart_path


@dg.asset(
    key=FINDINGS,
    pool=pools.SQL,
    deps=[asset_key(name) for name in INPUTS],
    group_name="marts",
    kinds={"python", "polars", "parquet"},
    owners=["team:diplo-pipeline"],
    description=(
        "What an experienced researcher would flag, one row per (run, rule, episode): severity, steps, the "
        "worst value against its threshold, a sentence with the numbers and the likely cause with its usual "
        "fix. Rules: WAREHOUSE.md; their limits: `dbt_like_sql/thresholds.yml`; code: "
        "`diplo_pipeline/lib/analytics/findings/`."
    ),
)
def findings(diplo: DiploData) -> dg.MaterializeResult:
    lake, state = diplo.paths().lake, diplo.paths().state / "findings_runs.json"
    path = python_mart_path(lake, "findings")
    fingerprints = _run_fingerprints(diplo)

    def compute(run_ids: list[str]):
        with closing(lake_connection(diplo, reading=INPUTS, partition_keys=run_ids, dimension="run_id")) as con:
            return findings_from(con)

    found, computed = cached_findings(fingerprints, path, state, compute, ordered)
    table = found.to_arrow()
    write_parquet_atomic(table, path)
    record(fingerprints, state)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.num_rows,
            "runs_computed": len(computed),  # the others' inputs were unchanged: their rows were kept
            "dagster/column_schema": column_schema(table.schema),
            "by_severity": dg.MetadataValue.json(dict(found["severity"].value_counts().iter_rows())),
            "preview": dg.MetadataValue.md(markdown_table(preview_rows(found, (ERROR, WARN)), limit=30)),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


def _run_fingerprints(diplo: DiploData) -> dict[str, str]:
    """run id -> what its findings are computed from: its partition's files, its rows of any input that is
    not partitioned by run (by content), the code and the settings."""
    lake = diplo.paths().lake
    runs = sorted(source_keys(PROJECT, lake, "run_id"))
    held = built_fingerprints(PROJECT, lake, "run_id", runs)
    whole = [name for name in INPUTS if PROJECT.partitioned_by(name) != "run_id"]
    slices: dict[str, dict[str, str]] = {}
    if whole:
        with closing(lake_connection(diplo, reading=whole)) as con:
            slices = {name: dict(con.execute(analysis("reports/run_rows_digest"), {"table": name}).fetchall())
                      for name in whole}
    code = code_and_settings()
    return {run_id: hashlib.sha256("\0".join([code, held[run_id], *(slices[n].get(run_id) or "" for n in whole)])
                                   .encode()).hexdigest() for run_id in runs}


@dg.asset_check(
    asset=FINDINGS,
    name="no_error_findings",
    blocking=False,  # a finding is news about a run, not a broken table: nothing downstream should stop
    description="Warns while any run has an `error` finding (divergence, crash, invalid data); lists them.",
)
def no_error_findings(diplo: DiploData) -> dg.AssetCheckResult:
    errors = preview_rows(pl.from_arrow(read_parquet(python_mart_path(diplo.paths().lake, "findings"))), (ERROR,))
    return dg.AssetCheckResult(
        passed=not errors,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "error_findings": len(errors),
            "errors": dg.MetadataValue.md(markdown_table(errors, limit=30)),
        },
        description=f"{len(errors)} error findings" if errors else None,
    )
