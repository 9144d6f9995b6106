"""Live Axiom: each UTC day fetched through the APL endpoint into the same day partitions as export files.

A past day is fetched until Axiom's answer was complete, then never again (`axiom_apl_sensor`); today is
re-fetched from its watermark by the `axiom_today_refresh` schedule (every 15 minutes by default). Off,
with no network, unless AXIOM_TOKEN is set.
"""

import os
from datetime import UTC, datetime, timedelta

import dagster as dg

from diplo_pipeline.defs.partitions import axiom_days_partitions, contiguous_range_tags
from diplo_pipeline.defs.quarantine_checks import quarantine_check
from diplo_pipeline.defs.resources import AxiomApi, DiploData
from diplo_pipeline.lib.axiom import apl_sync
from diplo_pipeline.lib.axiom.apl_client import AxiomAuthError, AxiomError, live_settings_present
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.settings import DataPaths

AXIOM_APL = dg.AssetKey(["raw", "axiom_apl"])
QUARANTINE_CHECK = "no_quarantined_axiom_api_rows"
# Events reach Axiom a little after their `_time` (assumed: at most 15 minutes). Each fetch re-reads that
# long before its watermark (duplicates are dropped), and a day counts as complete only once it has been
# over that long: together no event within the allowance is missed.
LATENESS = timedelta(minutes=15)


class AxiomAplConfig(dg.Config):
    refetch: bool = False  # fetch every requested day, even complete ones (appends what Axiom has that we lack)


@dg.asset(
    key=AXIOM_APL,
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
        return dg.MaterializeResult(
            metadata={"live_source": "off: AXIOM_TOKEN is not set"},
            check_results=[quarantine_check(QUARANTINE_CHECK, paths, "axiom", "invalid rows", prefix="api-")],
        )
    now = datetime.now(UTC)
    # A range run spans the partitions between its ends, which may include days of export files only:
    # fetch just the days the live source is due to fetch (or, with `refetch`, every requested day).
    due = set(apl_sync.days_due(paths, now))
    fetched, skipped, failed = [], [], {}
    with axiom_api.client() as client:
        for day in context.partition_keys:
            if day not in due and not config.refetch:
                skipped.append(day)
                continue
            try:
                result = apl_sync.fetch_day(client, paths, day, now, lookback=LATENESS, settle=LATENESS)
            except AxiomAuthError:
                raise  # no other day would get through either
            except AxiomError as exc:
                failed[day] = str(exc)  # the other days still land; this one is due again next time
                continue
            fetched.append({"day": day, "rows_fetched": result.rows_fetched, "rows_new": result.rows_new,
                            "requests": result.requests, "complete": result.complete,
                            "watermark": result.watermark or ""})
    context.log.info(f"fetched {len(fetched)} days, skipped {len(skipped)} (complete or not due)")
    if failed:
        raise dg.Failure(
            description=f"{len(failed)} Axiom days could not be fetched (the other {len(fetched)} were staged): "
            + "; ".join(f"{day}: {why}" for day, why in sorted(failed.items())),
            metadata={"days_failed": dg.MetadataValue.json(sorted(failed))},
        )
    return dg.MaterializeResult(
        metadata={
            "dataset": client.dataset,
            "days_fetched": len(fetched),
            "days_skipped": len(skipped),
            "rows_new": sum(r["rows_new"] for r in fetched),
            "requests": sum(r["requests"] for r in fetched),
            "days_incomplete": dg.MetadataValue.json([r["day"] for r in fetched if not r["complete"]]),
            "preview": dg.MetadataValue.md(markdown_table(fetched, limit=31)),
        },
        check_results=[quarantine_check(QUARANTINE_CHECK, paths, "axiom", "invalid rows", prefix="api-")],
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
def axiom_apl_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    if not live_settings_present():
        return dg.SensorResult(skip_reason="live Axiom is off: AXIOM_TOKEN is not set")
    now = datetime.now(UTC)
    days = apl_sync.days_due(DataPaths.from_env(), now)
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
def axiom_today_refresh(context: dg.ScheduleEvaluationContext):
    if not live_settings_present():
        return dg.SkipReason("live Axiom is off: AXIOM_TOKEN is not set")
    today = context.scheduled_execution_time.astimezone(UTC).date().isoformat()
    if today not in context.instance.get_dynamic_partitions(axiom_days_partitions.name):
        return dg.SkipReason(f"no partition for {today} yet: axiom_apl_sensor adds it")
    return dg.RunRequest(asset_selection=[AXIOM_APL], partition_key=today)
