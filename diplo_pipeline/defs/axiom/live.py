"""Live Axiom: each UTC day fetched through the APL endpoint into the same day partitions as export files.

A past day is fetched until Axiom's answer was complete, then never again (`axiom_apl_sensor`); today is
re-fetched from its watermark by the `axiom_today_refresh` schedule (every 15 minutes by default). Off,
with no network, unless AXIOM_TOKEN is set. The sensor and the schedule take the asset's resources, so
they see the source on or off, and the data folder, exactly as the run they request will.
"""

import os
from datetime import UTC, datetime

import dagster as dg

from diplo_pipeline.defs import pools
from diplo_pipeline.defs.keys import AXIOM_APL
from diplo_pipeline.defs.partitions import axiom_days_partitions, contiguous_range_tags
from diplo_pipeline.defs.quarantine_checks import quarantine_check
from diplo_pipeline.defs.resources import AxiomApi, DiploData
from diplo_pipeline.lib.axiom import apl_partitions, apl_sync
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.settings import DataPaths

QUARANTINE_CHECK = "no_quarantined_axiom_api_rows"


class AxiomAplConfig(dg.Config):
    refetch: bool = False  # fetch every requested day, even complete ones (appends what Axiom has that we lack)


def _off(axiom_api: AxiomApi) -> str:
    return f"live Axiom is off: {axiom_api.token_variable} is not set"


def _quarantine_check(paths: DataPaths) -> dg.AssetCheckResult:
    return quarantine_check(QUARANTINE_CHECK, paths, "axiom", "invalid rows", prefix="api-")


@dg.asset(
    key=AXIOM_APL,
    pool=pools.INGEST,
    group_name="sources",
    kinds={"python", "parquet", "axiom"},
    owners=["team:diplo-pipeline"],
    partitions_def=axiom_days_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "Axiom events of one UTC day fetched through the APL query API (`sort by _time asc | limit N`, the "
        "start moved to the last `_time` seen, overlap deduplicated; partial answers are never taken as "
        "complete). Staged beside export files, so `axiom_events` merges and deduplicates both. A past day "
        "is complete once fetched; today is refreshed from its watermark. Off unless AXIOM_TOKEN is set."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            QUARANTINE_CHECK,
            asset=AXIOM_APL,
            description="Rows Axiom returned that are not valid events (no `_time`, no `event`, bad time).",
        )
    ],
)
def axiom_apl(context: dg.AssetExecutionContext, config: AxiomAplConfig, diplo: DiploData, axiom_api: AxiomApi):
    paths = diplo.paths()
    if not axiom_api.configured:
        return dg.MaterializeResult(metadata={"live_source": f"off: {axiom_api.token_variable} is not set"},
                                    check_results=[_quarantine_check(paths)])
    now = datetime.now(UTC)
    plan = apl_partitions.plan_apl_days(paths, list(context.partition_keys), now, refetch=config.refetch)
    with axiom_api.client() as client:
        done = apl_partitions.fetch_planned_days(client, paths, plan, now)
    context.log.info(f"fetched {len(done.fetched)} days, skipped {len(done.skipped)} (complete or not due)")
    if done.failed:
        raise dg.Failure(
            description=f"{len(done.failed)} Axiom days could not be fetched (the other {len(done.fetched)} were "
            "staged): " + "; ".join(f"{day}: {why}" for day, why in sorted(done.failed.items())),
            metadata={"days_failed": dg.MetadataValue.json(sorted(done.failed))},
        )
    return dg.MaterializeResult(
        metadata={
            "dataset": client.dataset,
            "days_fetched": len(done.fetched),
            "days_skipped": len(done.skipped),
            "rows_new": sum(f.rows_new for f in done.fetched),
            "requests": sum(f.requests for f in done.fetched),
            "days_incomplete": dg.MetadataValue.json([f.day for f in done.fetched if not f.complete]),
            "preview": dg.MetadataValue.md(markdown_table(done.rows(), limit=31)),
        },
        check_results=[_quarantine_check(paths)],
    )


@dg.sensor(
    name="axiom_apl_sensor",
    target=dg.AssetSelection.assets(AXIOM_APL),
    minimum_interval_seconds=900,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Live Axiom (only when AXIOM_TOKEN is set): adds a partition for each day from DIPLO_AXIOM_SINCE to "
        "today and requests the past days that are not complete yet (today belongs to "
        "`axiom_today_refresh`). The fetched days are then rebuilt by `axiom_exports_sensor`."
    ),
)
def axiom_apl_sensor(context: dg.SensorEvaluationContext, diplo: DiploData, axiom_api: AxiomApi) -> dg.SensorResult:
    if not axiom_api.configured:
        return dg.SensorResult(skip_reason=_off(axiom_api))
    now = datetime.now(UTC)
    days = apl_sync.days_due(diplo.paths(), now)
    known = context.instance.get_dynamic_partitions(axiom_days_partitions.name)
    new = [d for d in days if d not in known]
    adds = [axiom_days_partitions.build_add_request(new)] if new else []
    past = [d for d in days if d < now.date().isoformat()]
    if not past:
        return dg.SensorResult(dynamic_partitions_requests=adds,
                               skip_reason="every past day in the configured range is complete")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(asset_selection=[AXIOM_APL], tags=contiguous_range_tags(known + new, past))],
        dynamic_partitions_requests=adds,
    )


@dg.schedule(
    name="axiom_today_refresh",
    cron_schedule=os.environ.get("DIPLO_AXIOM_REFRESH_CRON", "*/15 * * * *"),
    execution_timezone="UTC",
    target=dg.AssetSelection.assets(AXIOM_APL),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Live Axiom: today's partition fetched again from its watermark (DIPLO_AXIOM_REFRESH_CRON).",
)
def axiom_today_refresh(context: dg.ScheduleEvaluationContext, axiom_api: AxiomApi):
    if not axiom_api.configured:
        return dg.SkipReason(_off(axiom_api))
    today = context.scheduled_execution_time.astimezone(UTC).date().isoformat()
    if today not in context.instance.get_dynamic_partitions(axiom_days_partitions.name):
        return dg.SkipReason(f"no partition for {today} yet: axiom_apl_sensor adds it")
    return dg.RunRequest(asset_selection=[AXIOM_APL], partition_key=today)
