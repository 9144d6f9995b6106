"""The CLI's SQL, dbt_like_sql/analyses/cli/*.sql: every file one statement that binds against the published
catalog (its tables and the macros it holds), and pasteable into the DuckDB CLI as README shows."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from diplo_pipeline.lib.warehouse.analyses import ANALYSES, analysis

CLI_ANALYSES = sorted(f"cli/{path.stem}" for path in (ANALYSES / "cli").glob("*.sql"))


def test_the_cli_answers_from_analyses():
    assert len(CLI_ANALYSES) >= 25 and "cli/rollout_timing" in CLI_ANALYSES


@pytest.mark.parametrize("name", CLI_ANALYSES)
def test_each_analysis_prepares_against_the_catalog(demo, name):
    con = demo["con"].cursor()  # a cursor of its own: the registration below stays with it
    try:
        # export_points_to_parquet copies the points the export registers under this name
        con.register("exported_points", con.sql("select 1 as point"))
        con.execute(f"prepare analysis as {analysis(name)}")  # binds every table, column and macro
    finally:
        con.close()


def test_an_analysis_pasted_into_the_duckdb_cli_gives_the_cli_answer(demo, diplo):
    duckdb_cli = shutil.which("duckdb", path=str(Path(sys.executable).parent))
    assert duckdb_cli, "the duckdb CLI is installed with the project (duckdb-cli)"
    script = (
        f"prepare q as {analysis('cli/rollout_timing')};\n"
        "execute q(start := timestamptz '2025-12-26 00:00:00+00', \"end\" := timestamptz '2025-12-27 00:00:00+00', "
        "end_inclusive := false, by_horizon := true, run_name := NULL);\n"
    )
    done = subprocess.run([duckdb_cli, str(demo["paths"].catalog), "-readonly", "-json"], input=script,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    pasted = json.loads(done.stdout)
    code, out, err = diplo("rollout-timing", "--by-horizon", "--since", "2025-12-26", "--until", "2025-12-27",
                           "--format", "json")
    assert code == 0, err
    answered = json.loads(out)["timing"]
    assert [(r["horizon_type"], r["rollouts"], r["p95_s"]) for r in pasted] == [
        (r["horizon_type"], r["rollouts"], r["p95_s"]) for r in answered
    ]
    assert len(answered) > 1 and answered[0]["horizon_type"] == "all"
