"""What each `diplo` command does: a build, the demo, SQL, and the questions answered from the catalog.

Query commands read the catalog only (`lib/queries`); nothing here imports Dagster or the WandB SDK until a
build or the demo asks for it, so an answer costs a DuckDB connection and a few small queries. rich comes in
when something is printed with it: a table, a build, an error (tests/unit/cli/test_cli_imports.py keeps the
heavy imports out).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from diplo_pipeline.cli.output import emit
from diplo_pipeline.lib import queries
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.warehouse.catalog_reader import attach_recipe

if TYPE_CHECKING:
    from rich.console import Console


@functools.cache
def stderr_console() -> Console:
    """Where builds, the demo, notices and errors are printed (made when first needed: `--format json` does
    not import rich)."""
    from rich.console import Console

    return Console(stderr=True)


def build(paths: DataPaths) -> int:
    from diplo_pipeline.cli.build_output import run_build  # Dagster loads only for a build, never for a query

    return run_build(paths, stderr_console())


def demo(paths: DataPaths, seed: int) -> int:
    from rich.text import Text

    from diplo_pipeline.cli.build_output import run_build_report
    from diplo_pipeline.cli.table_layout import wrap_words
    from diplo_pipeline.demo import generate_demo
    from diplo_pipeline.demo.next_steps import demo_hints
    from diplo_pipeline.demo.planted_checks import planted_check_failures

    console = stderr_console()
    inbox = paths.data_dir / "inbox"
    started = time.perf_counter()
    with console.status("writing demo data with the WandB SDK (offline) and Axiom NDJSON") as status:
        generate_demo(inbox, seed=seed, progress=lambda msg: status.update(msg))
    console.print(Text(f"demo data written to {inbox} in {time.perf_counter() - started:.1f}s"))
    # The demo writes into the default inboxes; make sure a build reads exactly those.
    demo_paths = DataPaths(paths.data_dir, (inbox / "wandb",), (inbox / "axiom",), inbox / "sweeps")
    code, report = run_build_report(demo_paths, console)
    planted = planted_check_failures()
    failed = report.checks_failed if report else []
    found = [check for check in failed if check in planted]
    console.print(Text(f"\nThe demo plants problems for the warehouse to find: {len(found)} of the failed checks "
                       "are these planted ones, found as they should be:", style="bold"))
    for check in found:
        console.print(Text(f"  {check}"), soft_wrap=True)
        for line in wrap_words(planted[check], console.width - 6):
            console.print(Text(f"      {line}"), soft_wrap=True)
    for check in failed:
        if check not in planted:
            console.print(Text(f"  {check}: not planted by the demo, a real problem", style="red"), soft_wrap=True)
    console.print(Text("\nWhere to look", style="bold"))
    for line in demo_hints(paths, Path(sys.executable).parent, Path.cwd()):
        console.print(Text(line), soft_wrap=True)
    return code


def _notice(message: str) -> None:
    stderr_console().print(message, style="yellow", markup=False, highlight=False, soft_wrap=True)


def catalog_url(paths: DataPaths) -> int:
    """`diplo catalog-url`: the one-line ATTACH recipe for the newest catalog (lib/warehouse/catalog_reader.py)."""
    try:
        print(attach_recipe(paths.published_catalog))
    except FileNotFoundError as exc:
        _complain(str(exc))
        return 2
    return 0


def sql(paths: DataPaths, query: str, fmt: str) -> int:
    try:
        con = queries.connect(paths.published_catalog, notice=_notice)
    except queries.QueryError as exc:
        _complain(str(exc))
        return 2
    try:
        relation = con.sql(query)
        if relation is None:
            return 0
        columns, rows = _distinct_names(relation.columns), relation.fetchall()
    except duckdb.Error as exc:  # DuckDB's errors name the problem precisely; show them as they are
        _complain(f"{type(exc).__name__}: {exc}")
        return 1
    finally:
        con.close()
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    emit(queries.Answer(records, records, columns), fmt, "sql")
    return 0


def _distinct_names(columns: list[str]) -> list[str]:
    """`select 1 as a, 2 as a` names two columns `a`: the second becomes `a_1`, as DuckDB's own tables do."""
    seen: dict[str, int] = {}
    names = []
    for name in columns:
        unique = name
        while unique in seen:
            seen[name] += 1
            unique = f"{name}_{seen[name]}"
        seen.setdefault(unique, 0)
        names.append(unique)
    return names


def _complain(message: str) -> None:
    # Names and error texts may hold [brackets]: never read them as rich markup.
    stderr_console().print(message, style="red", markup=False, highlight=False, soft_wrap=True)


# --- the questions -------------------------------------------------------------------------------------


def runs(con, args, paths) -> queries.Answer:
    return queries.list_runs(con, args.tag, args.state, args.config, args.limit)


def run(con, args, paths) -> queries.Answer:
    return queries.show_run(con, queries.resolve_run(con, args.run))


def artifacts(con, args, paths) -> queries.Answer:
    return queries.run_artifacts(con, queries.resolve_run(con, args.run), args.type)


def metrics(con, args, paths) -> queries.Answer:
    run = queries.resolve_run(con, args.run)
    if not args.metric and not args.all_metrics:
        return queries.metric_keys(con, run)
    return queries.run_metrics(con, run, None if args.all_metrics else args.metric, args.x_axis)


def compare(con, args, paths) -> queries.Answer:
    runs = [queries.resolve_run(con, run) for run in args.runs]
    if args.baseline:
        if len(runs) != 1:
            raise queries.QueryError("--baseline compares one run with its baseline: give exactly one RUN")
        return queries.baseline_comparison(con, runs[0], args.metric)
    if not args.metric:
        raise queries.QueryError("compare needs at least one -m KEY (or --baseline)")
    return queries.compare_runs(con, runs, args.metric)


def export(con, args, paths) -> queries.Answer:
    return queries.export_run(con, queries.resolve_run(con, args.run), Path(args.output))


def elo(con, args, paths) -> queries.Answer:
    return queries.elo_analysis(con, queries.resolve_run(con, args.run))


def sweep(con, args, paths) -> queries.Answer:
    if args.runs:
        if args.name:
            raise queries.QueryError(f"give a sweep name or --runs, not both (got {args.name!r} and --runs)")
        return queries.run_set_comparison(con, [queries.resolve_run(con, run) for run in args.runs])
    if not args.name:
        raise queries.QueryError("name a sweep (`diplo sweep stability-ablation`) or list runs (`--runs A B C`)")
    return queries.sweep_comparison(con, queries.resolve_sweep(con, args.name))


def _window(con, args):
    run = queries.resolve_run(con, args.run) if args.run else None
    return queries.parse_window(con, args.last, args.since, args.until, args.default_last, run)


def rollout_timing(con, args, paths) -> queries.Answer:
    return queries.rollout_timing(con, _window(con, args), args.by_horizon)


def errors(con, args, paths) -> queries.Answer:
    return queries.errors(con, _window(con, args), args.limit)


def extraction_stats(con, args, paths) -> queries.Answer:
    return queries.extraction_stats(con, _window(con, args), args.by_power)


def health(con, args, paths) -> queries.Answer:
    return queries.health(con, _window(con, args))


def inference_stats(con, args, paths) -> queries.Answer:
    return queries.inference_stats(con, _window(con, args), args.by_adapter)


def cache_stats(con, args, paths) -> queries.Answer:
    return queries.cache_stats(con, _window(con, args))


def events(con, args, paths) -> queries.Answer:
    return queries.events(con, _window(con, args), args.event, args.limit)


def findings(con, args, paths) -> queries.Answer:
    return queries.run_findings(con, queries.resolve_run(con, args.run), args.severity)


def report(con, args, paths) -> queries.Answer:
    return queries.report_location(con, queries.resolve_run(con, args.run), paths.reports)


def answer(args: argparse.Namespace, paths: DataPaths) -> int:
    try:
        con = queries.connect(paths.published_catalog, notice=_notice)
        try:
            answer = args.answer(con, args, paths)
        finally:
            con.close()
    except queries.QueryError as exc:
        _complain(str(exc))
        return 2
    except duckdb.CatalogException as exc:  # a table newer than this catalog
        _complain(f"{exc}\nthe catalog at {paths.published_catalog} predates this table: run `diplo build`")
        return 2
    emit(answer, args.format, args.command)
    return 0


