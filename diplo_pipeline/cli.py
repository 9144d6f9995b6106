"""`diplo`: build the warehouse, make demo data, and query the catalog from the terminal."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import duckdb
from rich.console import Console
from rich.text import Text

from diplo_pipeline.cli_output import FORMATS, emit, wrap_words
from diplo_pipeline.lib import queries
from diplo_pipeline.lib.settings import DataPaths

console = Console(stderr=True)


def _build(paths: DataPaths) -> int:
    from diplo_pipeline.build_command import run_build  # Dagster loads only for a build, never for a query

    return run_build(paths, console)


def _demo(paths: DataPaths, seed: int) -> int:
    from diplo_pipeline.demo import generate_demo
    from diplo_pipeline.demo.next_steps import demo_hints
    from diplo_pipeline.demo.planted_checks import planted_check_failures

    inbox = paths.data_dir / "inbox"
    started = time.perf_counter()
    with console.status("writing demo data with the WandB SDK (offline) and Axiom NDJSON") as status:
        generate_demo(inbox, seed=seed, progress=lambda msg: status.update(msg))
    console.print(Text(f"demo data written to {inbox} in {time.perf_counter() - started:.1f}s"))
    # The demo writes into the default inboxes; make sure a build reads exactly those.
    demo_paths = DataPaths(paths.data_dir, (inbox / "wandb",), (inbox / "axiom",), inbox / "sweeps")
    from diplo_pipeline.build_command import run_build_report

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
    console.print(message, style="yellow", markup=False, highlight=False, soft_wrap=True)


def _sql(paths: DataPaths, query: str, fmt: str) -> int:
    try:
        con = queries.connect(paths.catalog, notice=_notice)
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
    console.print(message, style="red", markup=False, highlight=False, soft_wrap=True)


# --- the questions -------------------------------------------------------------------------------------


def _runs(con, args, paths) -> queries.Answer:
    return queries.list_runs(con, args.tag, args.state, args.config, args.limit)


def _run(con, args, paths) -> queries.Answer:
    return queries.show_run(con, queries.resolve_run(con, args.run))


def _metrics(con, args, paths) -> queries.Answer:
    run = queries.resolve_run(con, args.run)
    if not args.metric and not args.all_metrics:
        return queries.metric_keys(con, run)
    return queries.run_metrics(con, run, None if args.all_metrics else args.metric, args.x_axis)


def _compare(con, args, paths) -> queries.Answer:
    runs = [queries.resolve_run(con, run) for run in args.runs]
    return queries.compare_runs(con, runs, args.metric)


def _export(con, args, paths) -> queries.Answer:
    return queries.export_run(con, queries.resolve_run(con, args.run), Path(args.output))


def _elo(con, args, paths) -> queries.Answer:
    return queries.elo_analysis(con, queries.resolve_run(con, args.run))


def _sweep(con, args, paths) -> queries.Answer:
    return queries.sweep_comparison(con, queries.resolve_sweep(con, args.name))


def _window(con, args):
    return queries.parse_window(con, args.last, args.since, args.until, args.default_last)


def _rollout_timing(con, args, paths) -> queries.Answer:
    return queries.rollout_timing(con, _window(con, args), args.by_horizon)


def _errors(con, args, paths) -> queries.Answer:
    return queries.errors(con, _window(con, args), args.limit)


def _extraction_stats(con, args, paths) -> queries.Answer:
    return queries.extraction_stats(con, _window(con, args), args.by_power)


def _health(con, args, paths) -> queries.Answer:
    return queries.health(con, _window(con, args))


def _inference_stats(con, args, paths) -> queries.Answer:
    return queries.inference_stats(con, _window(con, args), args.by_adapter)


def _cache_stats(con, args, paths) -> queries.Answer:
    return queries.cache_stats(con, _window(con, args))


def _findings(con, args, paths) -> queries.Answer:
    return queries.run_findings(con, queries.resolve_run(con, args.run), args.severity)


def _report(con, args, paths) -> queries.Answer:
    return queries.report_location(con, queries.resolve_run(con, args.run), paths.reports)


def _answer(args: argparse.Namespace, paths: DataPaths) -> int:
    try:
        con = queries.connect(paths.catalog, notice=_notice)
        try:
            answer = args.answer(con, args, paths)
        finally:
            con.close()
    except queries.QueryError as exc:
        _complain(str(exc))
        return 2
    except duckdb.CatalogException as exc:  # a table newer than this catalog
        _complain(f"{exc}\nthe catalog at {paths.catalog} predates this table: run `diplo build`")
        return 2
    emit(answer, args.format, args.command)
    return 0


# --- the command line ----------------------------------------------------------------------------------

RUN_HELP = "run id or run name"
WINDOW_HELP = (
    "Windows: --last Nm|Nh|Nd|Nw counts back from the LATEST Axiom event in the warehouse (or from --until), "
    "not from now, since exports may be old; --since/--until take ISO-8601 times (UTC unless a zone is given)."
)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def _output_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--format", choices=FORMATS, default="table",
                         help="table (default), json (the whole answer) or csv (its main table) to stdout")
    return options


def _window_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--last", metavar="DURATION", help="window length, e.g. 30m, 6h, 2d, 1w (see below)")
    options.add_argument("--since", metavar="TIME", help="window start, e.g. 2025-12-23 or 2025-12-23T08:00Z")
    options.add_argument("--until", metavar="TIME", help="window end (exclusive); default: the latest event")
    return options


def _question(sub, name: str, answer, help_text: str, *parents: argparse.ArgumentParser,
              **defaults) -> argparse.ArgumentParser:
    """A query command: answered by `answer(con, args, paths)`, printed in the --format asked for."""
    command = sub.add_parser(name, parents=[_output_options(), *parents], help=help_text, description=help_text,
                             epilog=WINDOW_HELP if parents else None)
    command.set_defaults(answer=answer, **defaults)
    return command


def _add_run_commands(sub) -> None:
    runs = _question(sub, "runs", _runs, "list runs, newest first (filter by tag, state, config)")
    runs.add_argument("--tag", action="append", default=[], help="has this tag (repeatable: any of them)")
    runs.add_argument("--state", help="finished, crashed, running, killed, ...")
    runs.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                      help="config value, auto-cast to bool/int/float/str (repeatable: all of them)")
    runs.add_argument("--limit", type=_positive_int, default=50)

    _question(sub, "run", _run, "one run with its config and summary").add_argument("run", help=RUN_HELP)

    metrics = _question(sub, "metrics", _metrics, "metric series of a run, each value at its own step, with "
                        "min/max/mean/last; without -m or --all-metrics, the keys the run logged")
    metrics.add_argument("run", help=RUN_HELP)
    which = metrics.add_mutually_exclusive_group()
    which.add_argument("-m", "--metric", action="append", help="a logged key, e.g. benchmark/loss (repeatable)")
    which.add_argument("--all-metrics", action="store_true", help="every key the run logged")
    metrics.add_argument("--x-axis", choices=list(queries.X_AXES), default="step",
                         help="step (training step, default), _step (WandB's row counter) or timestamp")

    compare = _question(sub, "compare", _compare, "runs side by side per key: final value, max, min, mean over "
                        "every logged step (not the summary), and the config keys that differ")
    compare.add_argument("runs", nargs="+", metavar="RUN", help=RUN_HELP)
    compare.add_argument("-m", "--metric", action="append", required=True, help="a logged key (repeatable)")

    export = _question(sub, "export", _export, "write run, config, summary and every metric point to .json, "
                       "or .parquet (points as rows; run, config, summary as JSON in the key-value metadata)")
    export.add_argument("run", help=RUN_HELP)
    export.add_argument("-o", "--output", required=True, metavar="PATH", help="file ending in .json or .parquet")


def _add_analysis_commands(sub) -> None:
    _question(sub, "elo", _elo, "Elo analysis of a run: checkpoints, baselines, best checkpoint, Elo gap with "
              "its band, baseline exploitation, learning signal").add_argument("run", help=RUN_HELP)
    _question(sub, "sweep", _sweep, "a sweep's runs side by side with ranking, winner, margin, verdict, varying "
              "parameters and success criteria").add_argument("name", help="sweep name, e.g. stability-ablation")

    findings = _question(sub, "findings", _findings, "a run's findings with their hypotheses")
    findings.add_argument("run", help=RUN_HELP)
    findings.add_argument("--severity", choices=queries.SEVERITIES, default="info",
                          help="show this severity and worse (default: all)")

    _question(sub, "report", _report, "where a run's HTML report is and whether it exists (opens nothing)"
              ).add_argument("run", help=RUN_HELP)


def _add_pipeline_commands(sub) -> None:
    window = _window_options()

    def windowed(name: str, answer, default_last: str, help_text: str) -> argparse.ArgumentParser:
        return _question(sub, name, answer, f"{help_text} (default window: --last {default_last})", window,
                         default_last=default_last)

    windowed("rollout-timing", _rollout_timing, "6h", "completed rollouts' wall time: p50/p95/max, throughput"
             ).add_argument("--by-horizon", action="store_true", help="also per horizon type (short, long)")
    windowed("errors", _errors, "1h", "error and failure events and failed spans, newest first, with their error"
             ).add_argument("--limit", type=_positive_int, default=50)
    windowed("extraction-stats", _extraction_stats, "24h", "order extraction rate (orders-weighted), responses"
             ).add_argument("--by-power", action="store_true", help="per power")
    windowed("health", _health, "1h", "health per hour (health_hourly) and the window's overall status")
    windowed("inference-stats", _inference_stats, "1h", "inference calls: batch size, times, p95, tokens/s"
             ).add_argument("--by-adapter", action="store_true", help="per lora_name (with its adapter kind)")
    windowed("cache-stats", _cache_stats, "1h", "prefix-cache queries, hits and hit rate from counter differences")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diplo", description=__doc__)
    parser.add_argument("--data-dir", help="data root (default: $DIPLO_DATA_DIR or ./data)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("build", help="ingest every configured source and materialise everything")
    demo = sub.add_parser("demo", help="write the demo data to data/inbox/ and build")
    demo.add_argument("--seed", type=int, default=7)
    sql = sub.add_parser("sql", help="run a query against the catalog (read-only)")
    sql.add_argument("query")
    sql.add_argument("--format", choices=FORMATS, default="table")
    _add_run_commands(sub)
    _add_analysis_commands(sub)
    _add_pipeline_commands(sub)
    return parser


def _dispatch(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    paths = DataPaths.from_env(args.data_dir)
    if args.command == "build":
        return _build(paths)
    if args.command == "demo":
        return _demo(paths, args.seed)
    if args.command == "sql":
        return _sql(paths, args.query, args.format)
    return _answer(args, paths)


def main(argv: list[str] | None = None) -> int:
    try:
        code = _dispatch(argv)
        sys.stdout.flush()  # inside the try: a reader gone away shows up here, not at interpreter exit
        return code
    except BrokenPipeError:
        # `diplo runs | head -1`: the reader has what it wanted. Python's own recipe: point stdout at
        # devnull so the final flush at exit cannot fail again, and leave without a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
