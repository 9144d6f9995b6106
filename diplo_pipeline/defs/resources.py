"""Resources shared by every asset. Paths come from the environment (WAREHOUSE.md), never from code."""

import dagster as dg

from diplo_pipeline.lib.settings import DataPaths


class DiploData(dg.ConfigurableResource):
    """Where the lake, the catalog, the quarantine and the source inboxes are (DIPLO_* env vars)."""

    data_dir: str | None = None  # None: DIPLO_DATA_DIR, else ./data

    def paths(self) -> DataPaths:
        return DataPaths.from_env(self.data_dir)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"diplo": DiploData()})
