"""`diplo`: build the warehouse, make demo data, and query the catalog from the terminal."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import sys
import time
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table
from rich.text import Text

from diplo_pipeline.lib import queries
from diplo_pipeline.lib.settings import DataPaths

console = Console(stderr=True)
FORMATS = ("table", "json", "csv")


def _build(paths: DataPaths) -> int:
    from diplo_pipeline.build_command import run_build  # Dagster loads only for a build, never for a query

    return run_build(paths, console)


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
        f"  reports:  {paths.reports}/runs/<run_name>.html (offline pages), {paths.reports}/nightly/latest.html, "
        f"{paths.reports}/tracker.md\n"
        "  UI:       make dev  → http://127.0.0.1:3000"
    )
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
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        out.print(table)
    return 0


def _complain(message: str) -> None:
    # Names and error texts may hold [brackets]: never read them as rich markup.
    console.print(message, style="red", markup=False, highlight=False, soft_wrap=True)


# --- output: one answer, three formats -----------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return queries.jsonable(value)
        return f"{value:,.0f}" if abs(value) >= 1e6 else f"{value:.6g}"
    if isinstance(value, dt.datetime):
        return queries.jsonable(value).replace("T", " ")
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def _is_rows(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _rows_table(rows: list[dict], title: str) -> Table:
    # Columns holding lists of records (a metric's points) are too long for a table: --format json has them.
    columns = list(dict.fromkeys(k for row in rows for k, v in row.items() if not _is_rows(v)))
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")  # a narrow terminal wraps values instead of cutting them
    for row in rows:
        table.add_row(*(Text(_cell(row.get(column))) for column in columns))
    return table


def _fields_table(fields: dict, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("field", overflow="fold")
    table.add_column("value", overflow="fold")
    for name, value in fields.items():
        table.add_row(Text(str(name)), Text(_cell(value)))
    return table


def _section_tables(value: list | dict, title: str) -> list[Table]:
    if _is_rows(value):
        return [_rows_table(value, title)]
    if all(isinstance(v, dict) for v in value.values()):  # records by name, e.g. metrics by key
        return [_rows_table([{"key": k, **v} for k, v in value.items()], title)]
    if all(_is_rows(v) for v in value.values()):  # tables by name, e.g. a comparison by metric
        return [_rows_table(v, f"{title}: {k}") for k, v in value.items()]
    return [_fields_table(value, title)]


def _tables(data: list | dict, title: str) -> list[Table]:
    """An answer's scalars as one field/value table, then one table per nested record list or mapping."""
    if isinstance(data, list):
        return [_rows_table(data, title)] if data else []
    is_section = {k: _is_rows(v) or (isinstance(v, dict) and bool(v)) for k, v in data.items()}
    scalars = {k: v for k, v in data.items() if not is_section[k]}
    tables = [_fields_table(scalars, title)] if scalars else []
    for key, value in data.items():
        if is_section[key]:
            tables.extend(_section_tables(value, key))
    return tables


def _csv_cell(value):
    if isinstance(value, dict | list | tuple):
        return json.dumps(queries.jsonable(value))
    return "" if value is None else queries.jsonable(value)


def _emit(answer: queries.Answer, fmt: str, title: str) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(queries.jsonable(answer.data), indent=2) + "\n")
    elif fmt == "csv":
        columns = list(dict.fromkeys(k for row in answer.rows for k in row))
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_csv_cell(row.get(column)) for column in columns] for row in answer.rows)
    else:
        out = Console()
        if not out.is_terminal:  # piped or redirected: no width to fit, so nothing gets cut or folded
            out = Console(width=100_000)
        tables = _tables(answer.data, title)
        for table in tables:
            out.print(table)
        if not tables:
            out.print("(nothing matched)")


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
    return queries.report_location(queries.resolve_run(con, args.run), paths.reports)


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
    _emit(answer, args.format, args.command)
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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    paths = DataPaths.from_env(args.data_dir)
    if args.command == "build":
        return _build(paths)
    if args.command == "demo":
        return _demo(paths, args.seed)
    if args.command == "sql":
        return _sql(paths, args.query, args.format)
    return _answer(args, paths)


if __name__ == "__main__":
    sys.exit(main())
