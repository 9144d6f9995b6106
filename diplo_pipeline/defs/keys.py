"""Every asset key more than one module names: the assets that define them, their sensors, schedules and
automation, and `diplo build` import them from here, so a key is spelled once.

Keys of the SQL models follow from their files (defs/warehouse/project.py `asset_key`); the raw sources
the SQL reads are named again in dbt_like_sql/sources.yml, which must match these.
"""

import dagster as dg

# Sources (group "sources"): what the sensors request and `diplo build` runs phase by phase.
WANDB_API_LISTING = dg.AssetKey(["raw", "wandb_api_listing"])
WANDB_RUNS = dg.AssetKey(["raw", "wandb_runs"])
AXIOM_EXPORT_FILES = dg.AssetKey(["raw", "axiom_export_files"])
AXIOM_APL = dg.AssetKey(["raw", "axiom_apl"])
AXIOM_EVENTS = dg.AssetKey(["raw", "axiom_events"])
SWEEP_DEFINITIONS = dg.AssetKey(["raw", "sweep_definitions"])

# The marts written in Python (their inputs are SQL models) and the catalog published over everything.
FINDINGS = dg.AssetKey(["marts", "findings"])
POWER_LAW_FITS = dg.AssetKey(["marts", "power_law_fits"])
CATALOG = dg.AssetKey(["warehouse", "catalog"])
