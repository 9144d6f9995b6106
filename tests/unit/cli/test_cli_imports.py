"""A `diplo` query imports what a query needs: DuckDB, the CLI's own modules and, to print a table, rich; never
Dagster, the WandB SDK, the report renderers, the dataframe libraries or the SQL project loader.

Every query command runs, in each format, in one fresh interpreter (not this one: pytest has imported all of
them already); after each, the modules it was the first to import are checked. The JSON and CSV answers run
first, and must not import rich either. A heavy import put back at the top of a module the CLI reaches, or
inside a command, fails here, naming the command that pulled it in. How long a query takes is the bench's
figure (bench/run.py), not a test's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Top-level packages a query must not import.
HEAVY_PACKAGES = ("dagster", "wandb", "altair", "vl_convert", "scipy", "polars", "pyarrow", "numpy", "pandas",
                  "yaml", "httpx")
# The project's own modules that only a build, the demo or a report renderer needs.
HEAVY_MODULES = ("diplo_pipeline.defs", "diplo_pipeline.definitions", "diplo_pipeline.build", "diplo_pipeline.demo",
                 "diplo_pipeline.cli.build_output", "diplo_pipeline.lib.warehouse.sql_project",
                 "diplo_pipeline.lib.warehouse.catalog", "diplo_pipeline.lib.reports.data",
                 "diplo_pipeline.lib.reports.runs", "diplo_pipeline.lib.reports.charts")
TABLES_ONLY = ("rich",)  # what only `--format table` (and a build's or an error's output) may import

# Runs each command (argv lists, as JSON in argv[1]) through diplo's main; prints, per command, its exit code
# and the watched packages and modules first imported while it ran.
PROBE = """
import contextlib, io, json, sys
watched_packages, watched_modules, commands = json.loads(sys.argv[1])

def watched():  # a package by its top-level name, the project's modules by their own
    packages = {name.partition(".")[0] for name in sys.modules} & set(watched_packages)
    modules = {name for name in sys.modules if any(name == m or name.startswith(m + ".") for m in watched_modules)}
    return sorted(packages | modules)

from diplo_pipeline.cli import main
results = [{"command": "import diplo_pipeline.cli", "code": 0, "imported": watched()}]
for argv in commands:
    before = set(watched())
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(argv)
    results.append({"command": " ".join(argv), "code": code, "error": err.getvalue(),
                    "imported": sorted(set(watched()) - before)})
print(json.dumps(results))
"""


def probe(commands: list[list[str]], *, pythonpath: list[Path] = (), setup: str = "") -> list[dict]:
    """PROBE in a new interpreter; `setup` replaces its import of diplo's main (to test the probe itself)."""
    code = PROBE.replace("from diplo_pipeline.cli import main", setup) if setup else PROBE
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, [*pythonpath, ROOT]))}
    watched = [[*HEAVY_PACKAGES, *TABLES_ONLY], HEAVY_MODULES, commands]
    done = subprocess.run([sys.executable, "-c", code, json.dumps(watched)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def questions(demo, tmp_path: Path) -> list[list[str]]:
    run = demo["plan"].run("healthy")
    other = next(r for r in demo["plan"].runs.values() if r.run_id != run.run_id)
    (sweep,) = demo["con"].execute("select sweep_name from sweeps order by sweep_name limit 1").fetchone()
    return [
        ["runs"], ["runs", "--tag", "high-lr", "--config", "kl_beta=0.02"], ["run", run.name],
        ["metrics", run.name], ["metrics", run.name, "--all-metrics"],
        ["compare", run.name, other.run_id, "-m", "benchmark/loss"],
        *(["export", run.name, "-o", str(tmp_path / f"run.{suffix}")] for suffix in ("json", "parquet")),
        ["elo", run.name], ["sweep", sweep], ["sweep", "--runs", run.name, other.run_id],
        ["findings", run.name], ["report", run.name],
        ["rollout-timing", "--by-horizon"], ["errors"], ["extraction-stats", "--by-power"], ["health"],
        ["inference-stats", "--by-adapter"], ["cache-stats"],
        ["sql", "select 1"], ["sql", "select * from runs"],
    ]


def test_query_commands_import_no_build_or_report_code_and_no_rich_unless_printing_a_table(demo, tmp_path):
    data_dir = ["--data-dir", str(demo["paths"].data_dir)]
    plain = [[*data_dir, *q, "--format", fmt] for fmt in ("json", "csv") for q in questions(demo, tmp_path)]
    tables = [[*data_dir, *q, "--format", "table"] for q in questions(demo, tmp_path)]
    results = probe(plain + tables)
    assert len(results) == 1 + len(plain) + len(tables)
    failed = [(r["command"], r["code"], r["error"]) for r in results if r["code"] != 0]
    assert not failed  # every command answered: the checks below saw each one's whole code path
    heavy = {r["command"]: [m for m in r["imported"] if m not in TABLES_ONLY] for r in results}
    assert not {command: found for command, found in heavy.items() if found}, "query commands imported these"
    before_tables = results[:1 + len(plain)]  # importing the CLI, then every JSON and CSV answer
    assert not {r["command"]: r["imported"] for r in before_tables if r["imported"]}, "no table printed: no rich"
    assert "rich" in {m for r in results for m in r["imported"]}  # a table did bring it in


def test_the_probe_sees_a_heavy_import(tmp_path):
    """The check above can fail: a heavy package imported at the top of a module the CLI imports is caught
    (PyYAML here, the cheapest of them to import)."""
    package = tmp_path / "probe_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("import yaml  # noqa: F401\n")
    (imported,) = probe([], pythonpath=[tmp_path], setup="import probe_pkg\nmain = None")
    assert imported["imported"] == ["yaml"]
