"""`diplo`: build the warehouse, make demo data, and query the catalog from the terminal."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from diplo_pipeline.lib.settings import DataPaths

console = Console(stderr=True)


def _build(paths: DataPaths) -> int:
    import dagster as dg

    from diplo_pipeline.build import build, ensure_dagster_home
    from diplo_pipeline.definitions import defs

    ensure_dagster_home(Path(".dagster_home"))
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance, console.status("building") as status:
        report = build(defs(), instance, paths, progress=lambda msg: status.update(msg))
    elapsed = time.perf_counter() - started
    console.print(
        f"[bold]built in {elapsed:.1f}s[/]: {report.runs_discovered} runs found, "
        f"{len(report.runs_changed)} read, {len(report.runs_removed)} removed, "
        f"{len(report.axiom_days_built)} Axiom days rebuilt"
    )
    table = Table("table", "rows", title=f"catalog {paths.catalog}")
    for name, rows in report.table_rows.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    for step in report.failed_steps:
        console.print(f"[red]failed:[/] {step} — the catalog was not republished; see the Dagster UI (make dev)")
    for check in report.checks_failed:
        meta = report.check_metadata.get(check, {})
        if "threshold" in meta:
            detail = f"actual {meta['actual']} vs required {meta['threshold']}"
        elif "quarantine_folder" in meta:
            detail = f"{meta['quarantined']} items set aside in {meta['quarantine_folder']}"
        else:
            detail = f"{meta.get('offending_rows', '?')} offending rows"
        console.print(f"[yellow]check failed[/] {check}: {detail}")
    return 1 if report.failed_steps else 0


def _demo(paths: DataPaths, seed: int) -> int:
    from diplo_pipeline.demo import generate_demo

    inbox = paths.data_dir / "inbox"
    started = time.perf_counter()
    with console.status("writing demo data with the WandB SDK (offline) and Axiom NDJSON") as status:
        generate_demo(inbox, seed=seed, progress=lambda msg: status.update(msg))
    console.print(f"demo data written to {inbox} in {time.perf_counter() - started:.1f}s")
    # The demo writes into the default inboxes; make sure a build reads exactly those.
    demo_paths = DataPaths(paths.data_dir, (inbox / "wandb",), (inbox / "axiom",), inbox / "sweeps")
    code = _build(demo_paths)
    console.print(
        "\n[bold]Where to look[/]\n"
        f"  catalog:  duckdb {paths.catalog} -readonly -c \"select run_name, state, last_step from runs\"\n"
        f"  CLI:      diplo sql \"select * from run_steps limit 5\"\n"
        f"  lake:     {paths.lake}\n"
        "  UI:       make dev  → http://127.0.0.1:3000"
    )
    return code


def _sql(paths: DataPaths, query: str, fmt: str) -> int:
    import duckdb

    from diplo_pipeline.lib.catalog import connect_readonly

    try:
        con = connect_readonly(paths.catalog)
    except FileNotFoundError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    try:
        relation = con.sql(query)
        if relation is None:
            return 0
        columns, rows = relation.columns, relation.fetchall()
    except duckdb.Error as exc:  # DuckDB's errors name the problem precisely; show them as they are
        console.print(f"[red]{type(exc).__name__}:[/] {exc}")
        return 1
    finally:
        con.close()
    out = Console()
    if fmt == "json":
        out.print_json(json.dumps([dict(zip(columns, r)) for r in rows], default=str))
    elif fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        out.print(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="diplo", description=__doc__)
    parser.add_argument("--data-dir", help="data root (default: $DIPLO_DATA_DIR or ./data)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="ingest every configured source and materialise everything")
    demo = sub.add_parser("demo", help="write the demo data to data/inbox/ and build")
    demo.add_argument("--seed", type=int, default=7)
    sql = sub.add_parser("sql", help="run a query against the catalog (read-only)")
    sql.add_argument("query")
    sql.add_argument("--format", choices=["table", "json", "csv"], default="table")
    args = parser.parse_args(argv)
    paths = DataPaths.from_env(args.data_dir)
    if args.command == "build":
        return _build(paths)
    if args.command == "demo":
        return _demo(paths, args.seed)
    return _sql(paths, args.query, args.format)


if __name__ == "__main__":
    sys.exit(main())
