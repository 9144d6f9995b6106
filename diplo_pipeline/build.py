"""`diplo build`: ingest every configured source and materialise everything through Dagster.

Each phase is one in-process Dagster run on the persistent instance (DAGSTER_HOME), so the UI shows the
same materialisations, partitions and checks as a sensor-driven build. Many WandB partitions go in one
run (a contiguous range; unchanged runs inside it are skipped by the asset).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from diplo_pipeline.defs import pools
from diplo_pipeline.defs.automation import DOWNSTREAM_GROUPS
from diplo_pipeline.defs.keys import (
    AXIOM_APL,
    AXIOM_EVENTS,
    AXIOM_EXPORT_FILES,
    CATALOG,
    SWEEP_DEFINITIONS,
    WANDB_API_LISTING,
    WANDB_RUNS,
)
from diplo_pipeline.defs.partitions import (
    PARTITIONS_BY_DIMENSION,
    axiom_days_partitions,
    contiguous_range_tags,
    wandb_runs_partitions,
)
from diplo_pipeline.defs.resources import AxiomApi, DiploData, WandbApi
from diplo_pipeline.defs.warehouse.project import PROJECT, asset_key
from diplo_pipeline.defs.warehouse.sql_models import PARTITIONED_KEYS
from diplo_pipeline.lib.axiom import apl_sync, pending_days, staging
from diplo_pipeline.lib.deploy.instance_yaml import write_instance_yaml
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.source_folders import folder_problems, require_named_folders
from diplo_pipeline.lib.wandb import api_sync, offline
from diplo_pipeline.lib.warehouse import build_state, partitions, staleness
from diplo_pipeline.lib.warehouse.sql_runner import model_path

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def dagster_home(default: Path) -> Path:
    """DAGSTER_HOME, defaulting to a project-local folder so runs and partitions persist between builds."""
    return Path(os.environ.setdefault("DAGSTER_HOME", str(default.resolve())))


def ensure_dagster_home(default: Path) -> Path:
    """DAGSTER_HOME (see dagster_home) with the dagster.yaml the environment asks for: the embedded SQLite
    instance, or PostgreSQL when DAGSTER_PG_* are set (lib/deploy/instance_yaml.py). Raises
    PostgresSettingsIncomplete when they are set only in part."""
    home = dagster_home(default)
    write_instance_yaml(home)
    return home


def hold_storage_connections(instance: dg.DagsterInstance) -> None:
    """Keep one database connection per storage open for the build, as the webserver does.

    A build writes a few hundred events. Unless told the process is long-running, Dagster's PostgreSQL
    storages open a new connection for every statement (SQLAlchemy's NullPool): a fork and an authentication on
    the server each time, half of a one-run build's time measured against PostgreSQL 15 here. This is the
    call `dagster-webserver` makes at start (with no statement timeout: a build's statements keep the one
    they have today). The SQLite storages ignore it.
    """
    instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=20)


@dataclass(frozen=True)
class LiveSources:
    """Which live sources are on, as the definitions' resources (and so every run) see them now."""

    wandb: bool
    axiom: bool

    @classmethod
    def of(cls, defs: dg.Definitions) -> LiveSources:
        wandb_api: WandbApi = defs.resources["wandb_api"]
        axiom_api: AxiomApi = defs.resources["axiom_api"]
        return cls(wandb=wandb_api.configured, axiom=axiom_api.configured)


@dataclass
class BuildReport:
    live: LiveSources = field(default_factory=lambda: LiveSources(wandb=False, axiom=False))
    runs_discovered: int = 0
    runs_changed: list[str] = field(default_factory=list)
    live_runs_changed: list[str] = field(default_factory=list)
    runs_removed: list[str] = field(default_factory=list)
    axiom_days_built: list[str] = field(default_factory=list)
    live_days_fetched: list[str] = field(default_factory=list)
    table_rows: dict[str, int] = field(default_factory=dict)
    checks_failed: list[str] = field(default_factory=list)
    check_metadata: dict[str, dict] = field(default_factory=dict)
    failed_steps: list[str] = field(default_factory=list)
    source_warnings: list[str] = field(default_factory=list)  # source folders missing or holding no input
    # catalog_status rows not served as built: a failed data test, what it holds back, what was never built
    catalog_problems: list[dict] = field(default_factory=list)
    # The partitions of the partitioned models this build computed, by dimension (run_id: run ids; day: days)
    partitions_built: dict[str, list[str]] = field(default_factory=dict)
    # The whole (unpartitioned) tables, marts and reports this build materialised (the catalog aside)
    whole_built: list[str] = field(default_factory=list)
    # True when nothing downstream was materialised because no input changed (lib/warehouse/build_state.py);
    # the checks, table rows and catalog problems are then the last build's, which still hold.
    downstream_skipped: bool = False

    @property
    def blocking_failures(self) -> list[dict]:
        """The data tests that failed: their table is served at its last good version or left out."""
        return [row for row in self.catalog_problems if row.get("failed_check")]


def _materialize(
    defs: dg.Definitions, instance: dg.DagsterInstance, selection, paths: DataPaths | None = None, **kwargs
) -> dg.ExecuteInProcessResult:
    """One in-process run of `selection`; with `paths`, the assets read and write exactly those folders."""
    # Autoloading sees an asset once per module that imports it: keep one definition per object.
    assets = list({id(a): a for a in [*(defs.assets or []), *(defs.asset_checks or [])]}.values())
    resources = dict(defs.resources or {})
    if paths is not None:
        resources["diplo"] = DiploData.of(paths)
    return dg.materialize(
        assets=assets,
        selection=selection,
        instance=instance,
        resources=resources,
        run_config=QUIET,
        **kwargs,
    )


def _record_checks(report: BuildReport, result: dg.ExecuteInProcessResult) -> None:
    """The checks a run evaluated (the latest evaluation of each, when several runs of a build repeat one)."""
    for evaluation in result.get_asset_check_evaluations():
        name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        report.check_metadata[name] = {k: v.value for k, v in evaluation.metadata.items()}
        if name in report.checks_failed:
            report.checks_failed.remove(name)
        if not evaluation.passed:
            report.checks_failed.append(name)


def _partition_order(
    instance: dg.DagsterInstance, partitions: dg.DynamicPartitionsDefinition, wanted: list[str]
) -> list[str]:
    """Every partition key in the instance's order, after adding those of `wanted` it lacks."""
    known = instance.get_dynamic_partitions(partitions.name)
    new = [key for key in wanted if key not in known]
    if new:
        instance.add_dynamic_partitions(partitions.name, new)
    return known + new


def _partition_range(
    instance: dg.DagsterInstance, partitions: dg.DynamicPartitionsDefinition, wanted: list[str]
) -> dict[str, str]:
    """Run tags spanning every key of `wanted` in one run (adding the partitions the instance lacks)."""
    return contiguous_range_tags(_partition_order(instance, partitions, wanted), wanted)


def _stretches(
    instance: dg.DagsterInstance, partitions: dg.DynamicPartitionsDefinition, keys: list[str]
) -> list[list[str]]:
    """`keys` as runs of neighbours in the partition order: one Dagster run covers a contiguous range, and a
    range over a key with nothing to do would record it as materialised (the raw phases still run ranges:
    their assets skip unchanged keys inside, but Dagster records them)."""
    position = {key: i for i, key in enumerate(_partition_order(instance, partitions, keys))}
    stretches: list[list[str]] = []
    for key in sorted(keys, key=position.__getitem__):
        if stretches and position[key] == position[stretches[-1][-1]] + 1:
            stretches[-1].append(key)
        else:
            stretches.append([key])
    return stretches


def _record_outcome(report: BuildReport, result: dg.ExecuteInProcessResult) -> None:
    """Checks and failed steps of one phase. A failed source phase does not stop the build: the lake
    keeps what it had and everything downstream is rebuilt from that (the CLI says what failed)."""
    _record_checks(report, result)
    report.failed_steps.extend(
        f"{event.step_key}: {_failure_message(event)}"
        for event in result.all_events
        if event.event_type_value == "STEP_FAILURE" and not _is_check_failure(event)
    )
    # A run can fail with no step failing (its storage or executor broke): that is a failed build too.
    report.failed_steps.extend(
        f"run {result.run_id}: {event.message} {_error_text(event.event_specific_data.error)}".strip()
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.RUN_FAILURE and _run_broke(event)
    )


def _run_broke(event: dg.DagsterEvent) -> bool:
    """A run failed by something other than its steps (they report themselves above)."""
    reason = event.event_specific_data.failure_reason  # JobFailureData; its enum has no public name
    return reason is None or reason.value != "STEP_FAILURE"


def _is_check_failure(event: dg.DagsterEvent) -> bool:
    """A blocking check that found rows fails its step: it is reported as a check (with its rows), not as a
    step that broke."""
    error = event.step_failure_data.error if event.step_failure_data else None
    return error is not None and error.cls_name == "DagsterAssetCheckFailedError"


def _failure_message(event: dg.DagsterEvent) -> str:
    return _error_text(event.step_failure_data.error if event.step_failure_data else None)


def _error_text(error) -> str:
    while error is not None and error.cause is not None and "dagster" in error.cls_name.lower():
        error = error.cause  # the user's exception, not Dagster's wrapper around it
    return error.message.strip() if error else ""


def build(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    paths: DataPaths,
    progress: Callable[[str], None] = lambda _: None,
) -> BuildReport:
    """Everything, phase by phase. Raises SourceFolderMissing, before building anything, when a source folder
    the user named (paths.explicit) does not exist."""
    report = BuildReport(live=LiveSources.of(defs))
    hold_storage_connections(instance)
    pools.ensure_pool_limits(instance)  # before any run claims a slot (why: defs/pools.py)
    report.source_warnings = [
        p.message for p in require_named_folders(folder_problems(paths, report.live.wandb, report.live.axiom))
    ]

    def materialize(selection, **kwargs) -> dg.ExecuteInProcessResult:
        result = _materialize(defs, instance, selection, paths, raise_on_error=False, **kwargs)
        _record_outcome(report, result)
        return result

    progress("discovering WandB runs")
    discovered = offline.discover(paths)
    report.runs_discovered = len(discovered)
    changes = [c.run_id for c in offline.pending_changes(paths, discovered)]
    gone = sorted(offline.ingested_run_ids(paths) - set(discovered))
    report.runs_changed, report.runs_removed = changes, gone
    if report.live.wandb:
        progress("listing live WandB runs changed since the last sync")
        if materialize([WANDB_API_LISTING]).success:
            report.live_runs_changed = api_sync.pending_api_runs(paths)
    todo = changes + gone + [r for r in report.live_runs_changed if r not in discovered]
    if todo:
        progress(f"ingesting {len(todo) - len(gone)} new or changed runs ({len(gone)} removed) in one Dagster run")
        materialize([WANDB_RUNS], tags=_partition_range(instance, wandb_runs_partitions, todo))

    if report.live.axiom:
        days = apl_sync.days_due(paths, datetime.now(UTC))
        if days:
            progress(f"fetching {len(days)} days of live Axiom events")
            if materialize([AXIOM_APL], tags=_partition_range(instance, axiom_days_partitions, days)).success:
                report.live_days_fetched = days

    # Staging is skipped when no export file changed (a stat of each): an unchanged input materialises nothing.
    if staging.exports_changed(paths):
        progress("staging Axiom export files")
        materialize([AXIOM_EXPORT_FILES])
    days = pending_days.pending_days(paths)  # also days an interrupted build staged and never rebuilt
    if days:
        progress(f"rebuilding {len(days)} Axiom day partitions in one Dagster run")
        if materialize([AXIOM_EVENTS], tags=_partition_range(instance, axiom_days_partitions, days)).success:
            report.axiom_days_built = days

    # Nothing downstream reads anything but the raw lake, the sweep files and the code: when none of them
    # changed since the last clean build, that build's tables, checks and reports are still true.
    inputs = None if report.failed_steps else build_state.downstream_inputs(paths)
    previous = build_state.last_report(paths)
    last = inputs and build_state.unchanged_since_last_build(paths, inputs)
    if last:
        progress("nothing new since the last build: the models, checks, reports and catalog are up to date")
        report.downstream_skipped = True
        report.table_rows, report.catalog_problems = last["table_rows"], last["catalog_problems"]
        _keep_checks_not_run(report, last)
        return report
    build_state.forget_build(paths)  # whatever happens next, the previous build's record no longer holds

    # The partitioned models first, for the keys whose inputs changed only (a new run, a grown one): the
    # other partitions are neither computed nor recorded as materialised.
    code = build_state.code_and_settings()
    failed: set[dg.AssetKey] = set()  # partitioned models of a run that failed (a step, or a blocking test)
    built_anything = False
    for dimension, partitions_def in PARTITIONS_BY_DIMENSION.items():
        models = [asset_key(name) for name in PROJECT.partitioned_models(dimension)]
        todo = partitions.plan(paths, PROJECT, dimension, code)
        report.partitions_built[dimension] = []
        for stretch in _stretches(instance, partitions_def, sorted(todo)):
            progress(f"running the models partitioned by {dimension} for {len(stretch)} partitions in one run")
            result = materialize(dg.AssetSelection.assets(*models),
                                 tags=_partition_range(instance, partitions_def, stretch))
            built_anything = True
            if result.success:
                partitions.record(paths, PROJECT, dimension, {key: todo[key] for key in stretch})
                report.partitions_built[dimension] += stretch
            else:  # tried again next build; in one run Dagster would have skipped everything built on them
                failed |= set(models)

    # Then the whole tables, reports and the catalog whose inputs changed (lib/warehouse/staleness.py): a new
    # run rebuilds what reads runs, not the tables of Axiom events. Nothing is built on a partitioned run
    # that failed (in one run, Dagster would have skipped it).
    graph = defs.resolve_asset_graph()
    current, whole = _whole_asset_inputs(graph, paths, code)
    held_back = _descendants(graph, failed) - {CATALOG}
    host_local = _host_local(graph)
    stale = set(staleness.stale(paths, current, [key.to_user_string() for key in whole], host_local))
    todo = [key for key in whole if key != CATALOG and key not in held_back and key.to_user_string() in stale]
    if todo:
        progress(f"running {len(todo)} SQL models, marts and reports whose inputs changed, with their checks")
        # A blocking data test that fails stops what depends on its table in this run, and only that.
        result = materialize(dg.AssetSelection.assets(*todo))
        _record_whole(paths, current, result, graph, host_local)
        report.whole_built = sorted({e.asset_key.to_user_string() for e in result.get_asset_materialization_events()})
        built_anything = True

    # Published when anything was built (a table's file or its test outcome may have changed even when its
    # inputs did not: a retry after a failure), when its inputs changed, or when the last build left no
    # complete record to report from.
    catalog_stale = (built_anything or previous is None or not paths.catalog.exists()
                     or CATALOG.to_user_string() in stale)
    materializations = []
    if catalog_stale:
        progress("publishing the DuckDB catalog")
        # A run of its own, so a failed blocking test upstream never skips it: the catalog serves that table
        # at its last good version or leaves it out, and says why (lib/warehouse/catalog_status.py).
        result = materialize([CATALOG])
        materializations = result.asset_materializations_for_node(CATALOG.to_python_identifier())
        _record_whole(paths, current, result, graph, host_local)
    elif previous:
        report.table_rows, report.catalog_problems = previous["table_rows"], previous["catalog_problems"]
    if materializations:
        metadata = materializations[-1].metadata
        report.table_rows = {
            key.removeprefix("rows/"): int(value.value) for key, value in metadata.items() if key.startswith("rows/")
        }
        report.catalog_problems = list(metadata["problems"].value)
    if previous:
        _keep_checks_not_run(report, previous)
    if inputs and not report.failed_steps and (materializations or not catalog_stale):
        build_state.record_build(paths, inputs, {
            "table_rows": report.table_rows,
            "catalog_problems": report.catalog_problems,
            "checks_failed": report.checks_failed,
            "check_metadata": report.check_metadata,
        })
    return report


def _whole_asset_inputs(graph, paths: DataPaths, code: str) -> tuple[dict[str, str], list[dg.AssetKey]]:
    """The inputs fingerprint of every downstream asset, and the whole (unpartitioned) ones in graph order."""
    order = [key for key in graph.toposorted_asset_keys
             if graph.get(key).group_name in DOWNSTREAM_GROUPS or key == SWEEP_DEFINITIONS]
    given = {
        WANDB_RUNS.to_user_string(): staleness.files_fingerprint([paths.raw / "wandb"]),
        AXIOM_EVENTS.to_user_string(): staleness.files_fingerprint([paths.raw / "axiom" / "events"]),
        # the sweep definitions asset reads the sweep files (and writes raw/sweeps itself)
        SWEEP_DEFINITIONS.to_user_string(): staleness.files_fingerprint([paths.sweep_dir], named=False) + code,
    }
    for name, model in PROJECT.models.items():  # a partitioned table by its files (a view by its parents)
        if model.partitioned_by and model.materialized == "table":
            given[asset_key(name).to_user_string()] = staleness.files_fingerprint([model_path(paths.lake, model)])
    parents = {key.to_user_string(): [p.to_user_string() for p in graph.get(key).parent_keys] for key in order}
    current = staleness.fingerprints([k.to_user_string() for k in order], parents, given, code)
    return current, [key for key in order if key not in PARTITIONED_KEYS]


def _host_local(graph) -> set[str]:
    """The assets whose output is on this host, not in the lake: the reports and the build's catalog file."""
    return {key.to_user_string() for key in graph.get_all_asset_keys()
            if key == CATALOG or graph.get(key).group_name == "reports"}


def _descendants(graph, keys: set[dg.AssetKey]) -> set[dg.AssetKey]:
    found, pending = set(), list(keys)
    while pending:
        for child in graph.get(pending.pop()).child_keys:
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def _record_whole(
    paths: DataPaths, current: dict[str, str], result: dg.ExecuteInProcessResult, graph, host_local: set[str]
) -> None:
    """Keep the inputs of what `result` materialised whose blocking tests all passed. A table whose test
    failed, or broke before it could say, is built and tested again next time, so what is built on it stays
    held back."""
    passed = {e.asset_check_key for e in result.get_asset_check_evaluations() if e.passed}
    built = [event.asset_key for event in result.get_asset_materialization_events()]
    staleness.record(paths, current, [key.to_user_string() for key in built if all(
        check in passed for check in graph.get_check_keys_for_assets({key}) if graph.get(check).blocking)],
        host_local)


def _keep_checks_not_run(report: BuildReport, last: dict) -> None:
    """The checks of assets this build had no reason to run (their inputs unchanged) still hold as the last
    complete build found them: report them beside the ones that ran."""
    for name, metadata in last["check_metadata"].items():
        if name not in report.check_metadata:
            report.check_metadata[name] = metadata
            if name in last["checks_failed"] and name not in report.checks_failed:
                report.checks_failed.append(name)
