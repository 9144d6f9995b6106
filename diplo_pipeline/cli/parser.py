"""The `diplo` command line: every command, its options and its help."""

from __future__ import annotations

import argparse

from diplo_pipeline.cli import commands as c
from diplo_pipeline.cli.output import FORMATS
from diplo_pipeline.lib import queries

# --- the command line ----------------------------------------------------------------------------------

RUN_HELP = "run id or run name"
WINDOW_HELP = (
    "Windows: --last Nm|Nh|Nd|Nw counts back from the LATEST Axiom event in the warehouse (or from --until), "
    "not from now, since exports may be old; --since/--until take ISO-8601 times (UTC unless a zone is given). "
    "With --run RUN the latest event is the run's, and without --last/--since/--until the window is all of the "
    "run's events."
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
    options.add_argument("--run", metavar="RUN", help="only this run's events (run id or name): those naming it, "
                         "its rollouts', and those in its time window alone; the window defaults to its events")
    return options


def _question(sub, name: str, answer, help_text: str, *parents: argparse.ArgumentParser,
              **defaults) -> argparse.ArgumentParser:
    """A query command: answered by `answer(con, args, paths)`, printed in the --format asked for."""
    command = sub.add_parser(name, parents=[_output_options(), *parents], help=help_text, description=help_text,
                             epilog=WINDOW_HELP if parents else None)
    command.set_defaults(answer=answer, **defaults)
    return command


def _add_run_commands(sub) -> None:
    runs = _question(sub, "runs", c.runs, "list runs, newest first (filter by tag, state, config)")
    runs.add_argument("--tag", action="append", default=[], help="has this tag (repeatable: any of them)")
    runs.add_argument("--state", help="finished, crashed, running, killed, ...")
    runs.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                      help="config value, auto-cast to bool/int/float/str (repeatable: all of them)")
    runs.add_argument("--limit", type=_positive_int, default=50)

    _question(sub, "run", c.run, "one run with its config, summary, artifacts and logged tables"
              ).add_argument("run", help=RUN_HELP)

    artifacts = _question(sub, "artifacts", c.artifacts, "a run's artifacts (name, type, version or digest, "
                          "aliases, size, files, local path), its logged W&B Tables and its game replays")
    artifacts.add_argument("run", help=RUN_HELP)
    artifacts.add_argument("--type", help="only artifacts of this type (e.g. evaluation-replays, run_table)")

    metrics = _question(sub, "metrics", c.metrics, "metric series of a run, each value at its own step, with "
                        "min/max/mean/last; without -m or --all-metrics, the keys the run logged")
    metrics.add_argument("run", help=RUN_HELP)
    which = metrics.add_mutually_exclusive_group()
    which.add_argument("-m", "--metric", action="append", help="a logged key, e.g. benchmark/loss (repeatable)")
    which.add_argument("--all-metrics", action="store_true", help="every key the run logged")
    metrics.add_argument("--x-axis", choices=list(queries.X_AXES), default="step",
                         help="step (training step, default), _step (WandB's row counter), timestamp or _runtime "
                              "(seconds since the run started)")

    compare = _question(sub, "compare", c.compare, "runs side by side per key: final value, max, min, mean over "
                        "every logged step (not the summary), and the config keys that differ; with --baseline, "
                        "one run against the baseline the warehouse picked for it (run_baselines)")
    compare.add_argument("runs", nargs="+", metavar="RUN", help=RUN_HELP)
    compare.add_argument("-m", "--metric", action="append", default=[],
                         help="a logged key (repeatable; required without --baseline)")
    compare.add_argument("--baseline", action="store_true",
                         help="compare the one RUN with its nearest-config baseline: differing config keys, the "
                              "change in final Elo gap, reward, KL max, throughput and steps to target, each with "
                              "its significance (and -m keys side by side)")

    export = _question(sub, "export", c.export, "write run, config, summary and every metric point to .json, "
                       "or .parquet (points as rows; run, config, summary as JSON in the key-value metadata)")
    export.add_argument("run", help=RUN_HELP)
    export.add_argument("-o", "--output", required=True, metavar="PATH", help="file ending in .json or .parquet")


def _add_analysis_commands(sub) -> None:
    _question(sub, "elo", c.elo, "Elo analysis of a run: checkpoints, baselines, best checkpoint, Elo gap with "
              "its band, baseline exploitation, learning signal").add_argument("run", help=RUN_HELP)
    sweep = _question(sub, "sweep", c.sweep, "a sweep's runs side by side (every fixed reference's final Elo, best "
                      "checkpoint, Elo gap with its band, KL, grad norm, outcomes, reward), its three rankings, "
                      "winner, margin and verdict, varying parameters and success criteria")
    sweep.add_argument("name", nargs="?", help="sweep name, e.g. stability-ablation")
    sweep.add_argument("--runs", nargs="+", metavar="RUN",
                       help="instead of a named sweep, judge these runs as one (ids or names; two or more)")

    findings = _question(sub, "findings", c.findings, "a run's findings with their hypotheses")
    findings.add_argument("run", help=RUN_HELP)
    findings.add_argument("--severity", choices=queries.SEVERITIES, default="info",
                          help="show this severity and worse (default: all)")

    _question(sub, "report", c.report, "where a run's HTML report is and whether it exists (opens nothing)"
              ).add_argument("run", help=RUN_HELP)


def _add_pipeline_commands(sub) -> None:
    window = _window_options()

    def windowed(name: str, answer, default_last: str, help_text: str) -> argparse.ArgumentParser:
        return _question(sub, name, answer, f"{help_text} (default window: --last {default_last})", window,
                         default_last=default_last)

    windowed("rollout-timing", c.rollout_timing, "6h", "completed rollouts' wall time: p50/p95/max, throughput"
             ).add_argument("--by-horizon", action="store_true", help="also per horizon type (short, long)")
    windowed("errors", c.errors, "1h", "error and failure events and failed spans, newest first, with their error"
             ).add_argument("--limit", type=_positive_int, default=50)
    windowed("extraction-stats", c.extraction_stats, "24h", "order extraction rate (orders-weighted), responses"
             ).add_argument("--by-power", action="store_true", help="per power")
    windowed("health", c.health, "1h", "health per hour (health_hourly) and the window's overall status")
    windowed("inference-stats", c.inference_stats, "1h", "inference calls: batch size, times, p95, tokens/s"
             ).add_argument("--by-adapter", action="store_true", help="per lora_name (with its adapter kind)")
    windowed("cache-stats", c.cache_stats, "1h", "prefix-cache queries, hits and hit rate from counter differences "
             "(with --run: a run's, as wandb_cli get-cache-stats -r meant)")
    events = windowed("events", c.events, "1h", "raw Axiom events, newest first: time, event, its run, its rollout "
                      "and its other fields (as axiom_cli list)")
    events.add_argument("--event", metavar="NAME", help="only this event, e.g. rollout_error")
    events.add_argument("--limit", type=_positive_int, default=50)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diplo", description="Build the warehouse, make demo data, and query the catalog from the terminal."
    )
    parser.add_argument("--data-dir", help="data root (default: $DIPLO_DATA_DIR or ./data)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("build", help="ingest every configured source and materialise everything")
    demo = sub.add_parser("demo", help="write the demo data to data/inbox/ and build")
    demo.add_argument("--seed", type=int, default=7)
    sql = sub.add_parser("sql", help="run a query against the catalog (read-only)")
    sql.add_argument("query")
    sql.add_argument("--format", choices=FORMATS, default="table")
    sub.add_parser("catalog-url", help="one line of SQL that opens the newest catalog read-only in the DuckDB CLI "
                   "(from the bucket when DIPLO_LAKE_URL names one)")
    _add_run_commands(sub)
    _add_analysis_commands(sub)
    _add_pipeline_commands(sub)
    return parser


