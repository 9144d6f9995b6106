"""The asset-check result every ingestion asset reports about the input it had to set aside."""

import dagster as dg

from diplo_pipeline.lib.lake.quarantine import count_quarantined, sample_quarantined
from diplo_pipeline.lib.settings import DataPaths


def quarantine_check(
    check_name: str, paths: DataPaths, source: str, what: str, prefix: str = ""
) -> dg.AssetCheckResult:
    """Passes when nothing of `source` (units starting with `prefix`) is quarantined; otherwise says how
    much, where, and what to do."""
    total, per_unit = count_quarantined(paths.quarantine, source, prefix)
    folder = paths.quarantine / source
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=total == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "quarantined": total,
            "units_affected": len(per_unit),
            "quarantine_folder": str(folder),
            "examples": dg.MetadataValue.json(sample_quarantined(paths.quarantine, source, prefix=prefix)),
        },
        description=None
        if total == 0
        else f"{total} {what} were set aside with their reason in {folder}; everything else was ingested. "
        "Fix or re-export the files named there, then build again (their entries are replaced).",
    )
