"""Sweep definitions from DIPLO_SWEEP_DIR: what each sweep set out to show, and how to judge it."""

import dagster as dg

from diplo_pipeline.defs.keys import SWEEP_DEFINITIONS
from diplo_pipeline.defs.quarantine_checks import quarantine_check
from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.lib.lake.io import write_parquet_atomic
from diplo_pipeline.lib.lake.quarantine import write_quarantine
from diplo_pipeline.lib.previews import markdown_table
from diplo_pipeline.lib.sweeps.definitions import read_definitions

CHECK = "sweep_definitions_readable"


@dg.asset(
    key=SWEEP_DEFINITIONS,
    group_name="sources",
    kinds={"python", "yaml", "parquet"},
    owners=["team:diplo-pipeline"],
    description="`sweep.yaml` files (metadata, defaults, runs, analysis) found under DIPLO_SWEEP_DIR.",
    check_specs=[dg.AssetCheckSpec(CHECK, asset=SWEEP_DEFINITIONS, description="Every sweep.yaml parses.")],
)
def sweep_definitions(diplo: DiploData):
    paths = diplo.paths()
    table, bad = read_definitions(paths.sweep_dir)
    write_parquet_atomic(table, paths.raw / "sweeps" / "definitions.parquet")
    write_quarantine(paths.quarantine, "sweeps", "definitions", bad)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.num_rows,
            "preview": dg.MetadataValue.md(markdown_table(
                table.select(["sweep_name", "experiment_tag_prefix", "expected_ranking"]).to_pylist()
            )),
        },
        check_results=[quarantine_check(CHECK, paths, "sweeps", "unreadable sweep.yaml files")],
    )
