"""`diplo build`: check the source folders, take the build lock, build through Dagster, say what happened."""

from __future__ import annotations

import json
import time
from pathlib import Path

import dagster as dg
from rich.console import Console
from rich.table import Table
from rich.text import Text

from diplo_pipeline.build import BuildReport, LiveSources, build, dagster_home, ensure_dagster_home
from diplo_pipeline.definitions import defs
from diplo_pipeline.lib.deploy.instance_yaml import PostgresSettingsIncomplete
from diplo_pipeline.lib.lake.bucket_lease import shared_lake_lease
from diplo_pipeline.lib.lake.build_lock import build_lock
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.source_folders import SourceFolderMissing, folder_problems, require_named_folders
from diplo_pipeline.lib.warehouse.thresholds import limit


def run_build(paths: DataPaths, console: Console) -> int:
    """Build `paths` and print what happened; the exit code of `diplo build`."""
    return run_build_report(paths, console)[0]


def run_build_report(paths: DataPaths, console: Console) -> tuple[int, BuildReport | None]:
    """`run_build`, also returning what the build did (None when it did not start)."""
    definitions = defs()  # the assets get `paths` through their `diplo` resource (build.py)
    live = LiveSources.of(definitions)
    try:  # before anything is opened or written: a folder the user named that does not exist stops the build
        require_named_folders(folder_problems(paths, live.wandb, live.axiom, look_inside=False))
    except SourceFolderMissing as exc:
        for problem in exc.problems:
            console.print(f"nothing built: {problem.message}", style="red", markup=False, highlight=False,
                          soft_wrap=True)
        return 2, None
    home = dagster_home(Path(".dagster_home"))
    started = time.perf_counter()

    def waiting(message: str) -> None:
        console.print(message, style="yellow", markup=False, highlight=False, soft_wrap=True)

    # One build per data dir and Dagster home at a time: two at once on a fresh home break its run storage. A
    # lake in a bucket is shared by hosts that cannot see each other's locks: its lease takes turns among them.
    lease_s = limit("bucket_lease_seconds")
    with build_lock([paths.data_dir, home], on_wait=waiting), shared_lake_lease(paths.lake, lease_s, waiting) as lease:
        try:
            ensure_dagster_home(home)
        except PostgresSettingsIncomplete as exc:
            console.print(f"nothing built: {exc}", style="red", markup=False, highlight=False, soft_wrap=True)
            return 2, None
        with dg.DagsterInstance.get() as instance, console.status("building") as status:
            report = build(definitions, instance, paths, progress=lambda msg: status.update(msg))
    elapsed = time.perf_counter() - started
    if lease is not None and lease.lost:
        console.print(f"the bucket's build lease was taken over during this build (it was not renewed within "
                      f"{lease_s:g} s): another build may have written the lake at the same time; build again",
                      style="red", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"[bold]built in {elapsed:.1f}s[/]: {report.runs_discovered} runs found, "
        f"{len(report.runs_changed)} read, {len(report.runs_removed)} removed, "
        f"{len(report.axiom_days_built)} Axiom days rebuilt; recomputed "
        f"{len(report.partitions_built.get('run_id', []))} run and {len(report.partitions_built.get('day', []))} "
        f"day partitions, {len(report.whole_built)} whole tables and reports"
        + (f"; live WandB: {len(report.live_runs_changed)} runs new or changed" if report.live.wandb else "")
        + (f"; live Axiom: {len(report.live_days_fetched)} days fetched" if report.live.axiom else ""),
        soft_wrap=True,
    )
    for warning in report.source_warnings:
        console.print(Text("no input: ", style="yellow") + Text(warning), soft_wrap=True, highlight=False)
    if report.downstream_skipped:
        console.print("nothing new since the last build: no model, check, report or the catalog was rebuilt "
                      "(the checks below are that build's)", markup=False, highlight=False, soft_wrap=True)
    table = Table("table", "rows", title=f"catalog {paths.catalog}")
    for name, rows in report.table_rows.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    for step in report.failed_steps:
        console.print(f"[red]failed:[/] {step} — see the Dagster UI (make dev)")
    tests_reported = {row["failed_check"] for row in report.blocking_failures}  # printed below, with their rows
    for check in report.checks_failed:
        if check.rpartition(":")[2] in tests_reported:
            continue
        meta = report.check_metadata.get(check, {})
        if "threshold" in meta:
            detail = f"actual {meta['actual']} vs required {meta['threshold']}"
        elif "quarantine_folder" in meta:
            detail = f"{meta['quarantined']} items set aside in {meta['quarantine_folder']}"
        elif "offending_rows" in meta:
            detail = f"{meta['offending_rows']} offending rows"
        else:  # a check of its own kind: show its short figures
            detail = ", ".join(f"{k}={v}" for k, v in meta.items() if isinstance(v, int | float) or len(str(v)) < 40)
        console.print(f"[yellow]check failed[/] {check}: {detail}")
    _print_catalog_problems(console, report.catalog_problems)
    return (1 if report.failed_steps or report.blocking_failures else 0), report


SERVED = {
    "left_out": "left out of the catalog",
    "last_good": "the catalog serves its last good version",
    "previous": "the catalog serves its previous version",
    "current": "served as built",
}


def _print_catalog_problems(console: Console, problems: list[dict]) -> None:
    """Each table a failed data test holds back, what the catalog serves instead, and the offending rows."""
    for row in problems:
        label = Text("data test failed: " if row["failed_check"] else "held back: ",
                     style="red" if row["failed_check"] else "yellow")
        console.print(label + Text(f"{row['relation']}: {row['reason']} → {SERVED[row['served']]}"),
                      soft_wrap=True, highlight=False)
        for offending in json.loads(row["first_rows"] or "[]"):
            console.print(Text("    " + ", ".join(f"{k}={v}" for k, v in offending.items())), soft_wrap=True,
                          highlight=False)
    if problems:
        console.print("  (all of it: diplo sql \"select * from catalog_status where served <> 'current'\")",
                      markup=False, highlight=False, soft_wrap=True)
