"""The `findings` mart (WAREHOUSE.md): every rule of `diplo_pipeline/lib/findings.py` over every run."""

import dagster as dg
import duckdb
import polars as pl

from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.defs.warehouse.sql_models import asset_key, lake_connection
from diplo_pipeline.lib.findings import ERROR, WARN, find_all
from diplo_pipeline.lib.lake import write_parquet_atomic
from diplo_pipeline.lib.metadata import arrow_columns, markdown_table
from diplo_pipeline.lib.sql_models import python_mart_path

FINDINGS = dg.AssetKey(["marts", "findings"])

# run_steps with the boolean the EMA-reference rule needs; it is text in metric_points, so it has no column
# in run_steps. As there, the later write of a re-logged step wins.
RUN_STEPS_SQL = """
select s.*, c.used_cached_ref_logprobs
from run_steps as s
left join (
    select run_id, step, lower(arg_max(value_text, write_seq)) = 'true' as used_cached_ref_logprobs
    from metric_points
    where key = 'benchmark/used_cached_ref_logprobs' and row_kind = 'train'
    group by run_id, step
) as c using (run_id, step)
"""
RUNS_SQL = """
select
    run_id, run_name, state, last_step, total_steps,
    coalesce(try_cast(json_extract_string(config, '$.use_ema_reference') as boolean), false)
        as use_ema_reference
from runs
"""
# elo_agent_summary keeps each agent's first rating but not its step; baselines_rising starts its episode
# there. Same ratings as the summary reads: trainer scale, non-null.
AGENTS_SQL = """
select a.*, r.initial_step
from elo_agent_summary as a
left join (
    select run_id, agent, min(step) as initial_step
    from elo_ratings
    where scale = 'trainer' and elo is not null
    group by run_id, agent
) as r using (run_id, agent)
"""
PREVIEW_COLUMNS = ["run_name", "rule", "severity", "step_start", "step_end", "value", "message"]


def _read_inputs(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return con.sql(RUN_STEPS_SQL).pl(), con.sql(RUNS_SQL).pl(), con.sql(AGENTS_SQL).pl()


def _rows_of(table: pl.DataFrame, severities: tuple[str, ...]) -> list[dict]:
    return table.filter(pl.col("severity").is_in(severities)).select(PREVIEW_COLUMNS).to_dicts()


@dg.asset(
    key=FINDINGS,
    deps=[
        asset_key(name) for name in ("run_steps", "runs", "metric_points", "elo_agent_summary", "elo_ratings")
    ],
    group_name="marts",
    kinds={"python", "polars", "parquet"},
    owners=["team:diplo-pipeline"],
    description=(
        "What an experienced researcher would flag, one row per (run, rule, episode): severity, steps, the "
        "worst value against its threshold, a sentence with the numbers and the likely cause with its usual "
        "fix. Rules and thresholds: WAREHOUSE.md; code: `diplo_pipeline/lib/findings.py`."
    ),
)
def findings(diplo: DiploData) -> dg.MaterializeResult:
    con = lake_connection(diplo)
    try:
        run_steps, runs, agents = _read_inputs(con)
    finally:
        con.close()
    table = find_all(run_steps, runs, agents).to_arrow()
    path = python_mart_path(diplo.paths().lake, "findings")
    write_parquet_atomic(table, path)
    found = pl.from_arrow(table)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.num_rows,
            "dagster/column_schema": dg.TableSchema(
                columns=[dg.TableColumn(name=n, type=t) for n, t in arrow_columns(table.schema)]
            ),
            "by_severity": dg.MetadataValue.json(dict(found["severity"].value_counts().iter_rows())),
            "preview": dg.MetadataValue.md(markdown_table(_rows_of(found, (ERROR, WARN)), limit=30)),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


@dg.asset_check(
    asset=FINDINGS,
    name="no_error_findings",
    blocking=False,  # a finding is news about a run, not a broken table: nothing downstream should stop
    description="Warns while any run has an `error` finding (divergence, crash, invalid data); lists them.",
)
def no_error_findings(diplo: DiploData) -> dg.AssetCheckResult:
    errors = _rows_of(pl.read_parquet(python_mart_path(diplo.paths().lake, "findings")), (ERROR,))
    return dg.AssetCheckResult(
        passed=not errors,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "error_findings": len(errors),
            "errors": dg.MetadataValue.md(markdown_table(errors, limit=30)),
        },
        description=f"{len(errors)} error findings" if errors else None,
    )
