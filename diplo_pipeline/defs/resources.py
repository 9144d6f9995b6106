"""Resources shared by every asset. Paths and secrets come from the environment (WAREHOUSE.md), never code.

The live sources' secrets are bound with `dg.EnvVar`, so Dagster resolves them at run time and shows only
the variable's name in the UI; a source whose variable is unset is off and never touches the network.
"""

import os

import dagster as dg

from diplo_pipeline.lib.axiom.apl_client import AplClient, AxiomSettings
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.wandb.api_client import WandbApiSettings, WandbApiSource


class DiploData(dg.ConfigurableResource):
    """Where the lake, the catalog, the quarantine and the source inboxes are (DIPLO_* env vars)."""

    data_dir: str | None = None  # None: DIPLO_DATA_DIR, else ./data

    def paths(self) -> DataPaths:
        return DataPaths.from_env(self.data_dir)


class WandbApi(dg.ConfigurableResource):
    """The live WandB source (WANDB_API_KEY; entity, project and host from WANDB_* variables)."""

    api_key: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.api_key)

    def source(self) -> WandbApiSource:
        if not self.api_key:
            raise RuntimeError("the live WandB source is off: set WANDB_API_KEY to turn it on")
        return WandbApiSource(self.api_key, WandbApiSettings.from_env())


class AxiomApi(dg.ConfigurableResource):
    """The live Axiom source (AXIOM_TOKEN; dataset, URL and org id from AXIOM_* variables)."""

    token: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.token)

    def client(self) -> AplClient:
        if not self.token:
            raise RuntimeError("the live Axiom source is off: set AXIOM_TOKEN to turn it on")
        settings = AxiomSettings.from_env()
        return AplClient(settings.url, self.token, settings.dataset, settings.org_id,
                         page_size=settings.page_size, timeout_s=settings.timeout_s)


def _secret(name: str) -> dg.EnvVar | None:
    return dg.EnvVar(name) if os.environ.get(name) else None


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "diplo": DiploData(),
            "wandb_api": WandbApi(api_key=_secret("WANDB_API_KEY")),
            "axiom_api": AxiomApi(token=_secret("AXIOM_TOKEN")),
        }
    )
