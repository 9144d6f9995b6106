"""`make bench`: diplo-pipeline's figures, each beside a baseline measured in the same run.

    python -m bench.run [--runs 200] [--steps 500] [--axiom-events 5000000] [--work bench/results/work]

Figures (ratios are ours ÷ baseline time; lower is better, 1.0 means as fast as the baseline):
- `.wandb` read: values/s of the full reader (framing, CRC, protobuf, JSON, long table) beside the time to
  only frame and parse the protobuf records of the same files.
- Axiom ingest: rows/s of staging + day partitions (parse, validate, type, dedup, quarantine) beside
  DuckDB's own `read_json` → `COPY … TO parquet` on the same files; and parsing one export's events as a
  damaged one-line JSON array (element-by-element recovery) beside parsing them as NDJSON.
- Live ingest (issue 6): rows/s of the WandB API source (listing + Parquet exports through the real
  `wandb.Api`) and of the Axiom APL source (paged queries, staging, day partitions), both against the
  tests' loopback servers in a separate process, beside the offline readers on the same runs and events.
- Cold build and one-new-run incremental build, wall time through Dagster on a fresh instance.
- A `diplo` query command, warm (issue 12): median wall time of `diplo runs --format json` in a process of
  its own on the built catalog, beside a process that imports DuckDB and reads the same `runs` table.
- Peak memory of the process.
- Then the scaling run (bench/scaling.py): cold, no-op, one-new-run and one-more-step builds at each of
  `--scaling-sizes` runs held, each size in a process of its own; `--no-scaling` leaves it out.
The workload is generated once per size and reused (bench/results/work-*). Everything goes to
bench/results/latest.json (the scaling run under its `scaling` key) and the scaling chart to scaling.png.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
from rich.console import Console
from rich.table import Table
from wandb.proto import wandb_internal_pb2 as pb

from bench import scaling
from bench.live import axiom_live_ingest, loopback_clouds, wandb_live_ingest
from bench.measure import merge_results, peak_rss_mb, process_seconds, timed
from bench.workload import ensure_workload, write_extra_run
from diplo_pipeline.build import build
from diplo_pipeline.definitions import defs
from diplo_pipeline.lib.axiom import day_partitions, staging
from diplo_pipeline.lib.axiom.export_files import discover_exports, parse_export
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.wandb.records import ReadStats, iter_raw_records
from diplo_pipeline.lib.wandb.run_tables import discover_runs, read_run
from diplo_pipeline.lib.warehouse.catalog import RAW_SCHEMAS
from diplo_pipeline.lib.warehouse.sql_project import Project
from diplo_pipeline.lib.warehouse.sql_runner import define_relations, materialize

console = Console()
ROOT = Path(__file__).resolve().parents[1]


def parse_only(files: list[Path]) -> int:
    record, count = pb.Record(), 0
    for path in files:
        for raw in iter_raw_records(path.read_bytes(), ReadStats()):
            record.ParseFromString(raw)
            count += 1
    return count


def read_all(runs) -> int:
    return sum(read_run(run, idle_limit_s=1e12).metric_points.num_rows for run in runs.values())


def axiom_ours(paths: DataPaths) -> int:
    staged = staging.stage_exports(paths)
    return sum(day_partitions.build_days(paths, sorted(staged.affected_days)).values())


def axiom_duckdb(files: list[Path], out: Path) -> int:
    con = duckdb.connect()
    try:
        listed = [str(p) for p in files]
        con.execute(
            f"copy (select * from read_json($files, format = 'newline_delimited', union_by_name = true)) "
            f"to '{out}' (format parquet, compression zstd)",
            {"files": listed},
        )
        return con.execute(f"select count(*) from '{out}'").fetchone()[0]
    finally:
        con.close()


def array_figure(export: Path, scratch: Path) -> tuple[str, str, str, str]:
    """The events of one NDJSON export as a one-line JSON array (the Console's download) with one damaged
    element in the middle, so the element-by-element recovery path is what is measured, beside parsing the
    NDJSON itself (issue 10: this was quadratic, 37 s for 11,441 elements)."""
    lines = export.read_bytes().splitlines()
    lines.insert(len(lines) // 2, b'{"_time": "2025-12-22T10:00:00Z", "event": oops}')
    damaged = scratch / "damaged-array.json"
    damaged.write_bytes(b"[" + b",".join(lines) + b"]")
    ours = timed(lambda: len(parse_export(damaged)))
    base = timed(lambda: len(parse_export(export)))
    return (
        "Axiom damaged one-line array (rows/s)",
        f"{ours.value / ours.seconds:,.0f} rows/s ({ours.seconds:.2f}s, {ours.value:,} elements kept)",
        f"the same events as NDJSON: {base.value / base.seconds:,.0f} rows/s ({base.seconds:.2f}s)",
        f"{ours.seconds / base.seconds:.2f}",
    )


def _lake_connection(lake: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    define_relations(con, Project.load(), lake, RAW_SCHEMAS, models=[])
    return con


def rebuild_models(lake: Path) -> dict[str, int]:
    """Every model from scratch, in dependency order, as the Dagster assets run them (without Dagster)."""
    project = Project.load()
    con = _lake_connection(lake)
    try:
        return {name: materialize(con, project.models[name], lake) for name in project.order()}
    finally:
        con.close()


def full_scan(lake: Path) -> tuple:
    con = _lake_connection(lake)
    try:
        points = con.execute("select count(*), sum(value) from raw_wandb__metric_points").fetchone()
        events = con.execute("select count(*), sum(length(payload)) from raw_axiom__events").fetchone()
        return points, events
    finally:
        con.close()


def cli_query_figure(paths: DataPaths) -> tuple[str, str, str, str]:
    """`diplo runs --format json` as a user runs it (a new interpreter: imports, catalog, query, JSON out),
    beside the least a process can do for the same rows: import DuckDB, open the catalog, read `runs`. What
    lies between is the CLI's own cost, mostly its imports (issue 12: pyarrow and numpy came in through the
    catalog builder, about 0.2 s of each query before)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's diplo, not an installed one
    ours = process_seconds([sys.executable, "-m", "diplo_pipeline.cli", "--data-dir", str(paths.data_dir), "runs",
                            "--format", "json"], cwd=ROOT, env=env)
    read = (f"import duckdb; duckdb.connect({str(paths.catalog)!r}, read_only=True)"
            ".sql('select * from runs').fetchall()")
    base = process_seconds([sys.executable, "-c", read], cwd=ROOT, env=env)
    return (
        "a `diplo` query command, warm",
        f"{ours:.2f}s (`diplo runs --format json`, median of 5)",
        f"python -c: import duckdb, select * from runs: {base:.2f}s",
        f"{ours / base:.2f}",
    )


def live_figures(work, exports: list[Path], offline_read_s: float, scratch: Path, live_events: int) -> list[tuple]:
    """The live sources against the loopback servers, beside the offline readers on the same data."""
    files, total = [], 0
    for path in exports:  # whole export files, up to about `live_events` events
        if total >= live_events:
            break
        files.append(path)
        total += sum(1 for _ in path.open())
    subset = DataPaths(scratch / "axiom-subset", (work.wandb,), tuple(files), scratch / "sweeps")
    offline_axiom = timed(lambda: axiom_ours(subset))
    days = sorted(staging.staged_days(subset))
    console.log(f"starting the loopback servers ({len(files)} Axiom files, {len(days)} days)")
    with loopback_clouds(work.wandb, files) as info:
        console.log(f"live WandB ingest of {info['runs']} runs through wandb.Api")
        wandb_live = timed(lambda: wandb_live_ingest(info, scratch / "live-wandb"))
        console.log(f"live Axiom ingest of {info['events']:,} events over {len(days)} days")
        axiom_live = timed(lambda: axiom_live_ingest(info, scratch / "live-axiom", days))
    return [
        (
            "live WandB ingest (rows/s)",
            f"{wandb_live.value / wandb_live.seconds:,.0f} values/s ({wandb_live.seconds:.1f}s)",
            f"offline .wandb read of the same runs: {offline_read_s:.1f}s",
            f"{wandb_live.seconds / offline_read_s:.2f}",
        ),
        (
            "live Axiom ingest (rows/s)",
            f"{axiom_live.value / axiom_live.seconds:,.0f} rows/s "
            f"({axiom_live.seconds:.1f}s, {axiom_live.value:,} rows)",
            (f"export files of the same events: {offline_axiom.value / offline_axiom.seconds:,.0f} rows/s "
             f"({offline_axiom.seconds:.1f}s)"),
            f"{axiom_live.seconds / offline_axiom.seconds:.2f}",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--axiom-events", type=int, default=5_000_000)
    parser.add_argument("--work", type=Path, default=Path("bench/results"))
    parser.add_argument("--live-events", type=int, default=500_000,
                        help="Axiom events served by the loopback server (it holds them in memory)")
    parser.add_argument("--no-scaling", action="store_true", help="leave out the scaling run (bench/scaling.py)")
    scaling.add_arguments(parser, prefix="scaling-")
    args = parser.parse_args(argv)

    work = ensure_workload(args.work, args.runs, args.steps, args.axiom_events, progress=console.log)
    scratch = Path(tempfile.mkdtemp(prefix="diplo-bench-"))
    figures: list[tuple[str, str, str, str]] = []
    try:
        runs = discover_runs([work.wandb])
        files = [p for r in runs.values() for p in r.files]
        console.log(f"reading {len(runs)} runs")
        ours = timed(lambda: read_all(runs))
        base = timed(lambda: parse_only(files))
        read_seconds = ours.seconds
        figures.append((
            ".wandb read (values/s)",
            f"{ours.value / ours.seconds:,.0f} values/s ({ours.seconds:.1f}s)",
            f"protobuf parse only: {base.seconds:.1f}s ({base.value:,} records)",
            f"{ours.seconds / base.seconds:.2f}",
        ))

        exports = discover_exports([work.axiom])
        data = DataPaths(scratch / "axiom-data", (work.wandb,), (work.axiom,), scratch / "sweeps")
        console.log(f"ingesting {len(exports)} Axiom export files")
        ours = timed(lambda: axiom_ours(data))
        base = timed(lambda: axiom_duckdb(exports, scratch / "duck.parquet"))
        ingest_seconds = read_seconds + ours.seconds
        figures.append((
            "Axiom ingest (rows/s)",
            f"{ours.value / ours.seconds:,.0f} rows/s ({ours.seconds:.1f}s, {ours.value:,} rows after dedup)",
            f"DuckDB read_json→COPY parquet: {base.value / base.seconds:,.0f} rows/s ({base.seconds:.1f}s)",
            f"{ours.seconds / base.seconds:.2f}",
        ))

        figures.append(array_figure(exports[0], scratch))
        figures.extend(live_figures(work, exports, read_seconds, scratch, args.live_events))

        console.log("cold build through Dagster")
        inbox = scratch / "inbox-wandb"
        shutil.copytree(work.wandb, inbox, symlinks=True)
        paths = DataPaths(scratch / "data", (inbox,), (work.axiom,), scratch / "sweeps")
        definitions = defs()
        with dg.DagsterInstance.ephemeral() as instance:
            # The assets resolve their paths from the environment, as they do under `dagster dev`.
            os.environ["DIPLO_DATA_DIR"] = str(paths.data_dir)
            os.environ["DIPLO_WANDB_DIR"] = str(inbox)
            os.environ["DIPLO_AXIOM_DIR"] = str(work.axiom)
            cold = timed(lambda: build(definitions, instance, paths))
            write_extra_run(inbox)
            incremental = timed(lambda: build(definitions, instance, paths))
        assert incremental.value.runs_changed and len(incremental.value.runs_changed) == 1
        console.log("rebuilding every SQL model on the built lake")
        models = timed(lambda: rebuild_models(paths.lake))
        scan = timed(lambda: full_scan(paths.lake))
        figures.append((
            "cold build (wall)",
            (
                f"{cold.seconds:.1f}s ({cold.value.table_rows.get('metric_points', 0):,} metric points, "
                f"{cold.value.table_rows.get('axiom_events', 0):,} events)"
            ),
            f"the two ingest steps above, without Dagster: {ingest_seconds:.1f}s",
            f"{cold.seconds / ingest_seconds:.2f}",
        ))
        figures.append((
            "one new run (incremental wall)",
            f"{incremental.seconds:.2f}s",
            f"cold build: {cold.seconds:.1f}s",
            f"{incremental.seconds / cold.seconds:.3f}",
        ))
        figures.append((
            "SQL models, cold rebuild",
            f"{models.seconds:.2f}s ({len(models.value)} models)",
            f"one full DuckDB scan of metric_points + axiom_events: {scan.seconds:.2f}s",
            f"{models.seconds / scan.seconds:.2f}",
        ))
        console.log("a diplo query command on the built catalog")
        figures.append(cli_query_figure(paths))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    table = Table("figure", "ours", "baseline (same run)", "ratio", title=(
        f"diplo-pipeline bench: {args.runs} runs × {args.steps} steps, {args.axiom_events:,} Axiom events"
    ))
    for row in figures:
        table.add_row(*row)
    console.print(table)
    peak = peak_rss_mb()  # before the scaling run, whose processes would count as this one's children
    console.print(f"peak memory: {peak:,.0f} MiB")
    out = args.work / "latest.json"
    # Merged: a scaling run measured alone (python -m bench.scaling) keeps its `scaling` key; each part dates itself.
    merge_results(out, {"figures": figures, "peak_rss_mb": peak, "argv": sys.argv[1:],
                        "measured_at": datetime.now(UTC).isoformat(timespec="seconds")})
    console.print(f"written to {out}")
    if not args.no_scaling:
        console.log(f"scaling run: {', '.join(map(str, args.scaling_sizes))} runs held")
        section = scaling.run_scaling(args.scaling_sizes, args.scaling_steps, args.scaling_events_per_run,
                                      args.scaling_templates, args.work)
        if any(entry["problems"] for entry in section["sizes"]):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
