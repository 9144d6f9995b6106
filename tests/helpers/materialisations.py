"""What a build materialised, read back from the Dagster instance (as the UI shows it)."""

from __future__ import annotations

import dagster as dg


def cursor(instance: dg.DagsterInstance) -> int:
    """The event log's position now: what is materialised later has a higher storage id."""
    return instance.event_log_storage.get_maximum_record_id() or 0


def materialised_since(instance: dg.DagsterInstance, after: int) -> dict[str, list[str | None]]:
    """Every asset materialised after `after`, with the partitions recorded (None for an unpartitioned one)."""
    found: dict[str, list[str | None]] = {}
    for key in instance.get_asset_keys():
        records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, after_storage_id=after),
                                                  limit=10_000).records
        if records:
            found[key.to_user_string()] = sorted((r.partition_key for r in records), key=str)
    return found
