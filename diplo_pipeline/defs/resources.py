"""Resources shared by every asset, sensor and schedule. Paths and secrets come from the environment
(WAREHOUSE.md), never code.

The live sources' secrets are resolved each time one is needed (a run, a sensor tick), never when the
definitions load: a code server started before `WANDB_API_KEY` or `AXIOM_TOKEN` was set sees it on the
next run. Dagster's `EnvVar` field binding cannot say that: an `EnvVar` whose variable is unset fails
every run that needs the resource ("You have attempted to fetch the environment variable … which is not
set"; dagster-io/dagster#16232 asks for a default and is open), so these resources hold the variable's
*name* as config and read its value with `dg.EnvVar(name).get_value()` at use. The UI, run storage and
logs show only the name; a source whose variable is unset is off and never touches the network.
"""

from __future__ import annotations

import dagster as dg

from diplo_pipeline.lib.axiom.apl_client import AplClient
from diplo_pipeline.lib.axiom.apl_settings import TOKEN_VARIABLE, AxiomSettings
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.wandb.api_client import WandbApiSource
from diplo_pipeline.lib.wandb.api_settings import KEY_VARIABLE, WandbApiSettings


class DiploData(dg.ConfigurableResource):
    """Where the lake, the catalog, the quarantine and the source inboxes are. A folder left unset comes
    from its DIPLO_* variable, else its default under the data root."""

    data_dir: str | None = None  # None: DIPLO_DATA_DIR, else ./data
    wandb_dir: str | None = None  # None: DIPLO_WANDB_DIR, else <data>/inbox/wandb (`:` separates several)
    axiom_dir: str | None = None  # None: DIPLO_AXIOM_DIR, else <data>/inbox/axiom (`:` separates several)
    sweep_dir: str | None = None  # None: DIPLO_SWEEP_DIR, else <data>/inbox/sweeps

    @classmethod
    def of(cls, paths: DataPaths) -> DiploData:
        """The resource for exactly these folders, whatever the environment says."""
        return cls(
            data_dir=str(paths.data_dir),
            wandb_dir=":".join(str(p) for p in paths.wandb_dirs),
            axiom_dir=":".join(str(p) for p in paths.axiom_dirs),
            sweep_dir=str(paths.sweep_dir),
        )

    def paths(self) -> DataPaths:
        return DataPaths.from_env(self.data_dir, wandb_dir=self.wandb_dir, axiom_dir=self.axiom_dir,
                                  sweep_dir=self.sweep_dir)


def _secret(variable: str) -> str | None:
    """The value of the secret's variable now (empty counts as unset)."""
    return dg.EnvVar(variable).get_value() or None


class WandbApi(dg.ConfigurableResource):
    """The live WandB source: on when the variable named here (WANDB_API_KEY) is set; entity, project and
    host from WANDB_* variables."""

    api_key_variable: str = KEY_VARIABLE

    @property
    def configured(self) -> bool:
        return _secret(self.api_key_variable) is not None

    def source(self) -> WandbApiSource:
        api_key = _secret(self.api_key_variable)
        if api_key is None:
            raise RuntimeError(f"the live WandB source is off: set {self.api_key_variable} to turn it on")
        return WandbApiSource(api_key, WandbApiSettings.from_env())


class AxiomApi(dg.ConfigurableResource):
    """The live Axiom source: on when the variable named here (AXIOM_TOKEN) is set; dataset, URL and org id
    from AXIOM_* variables."""

    token_variable: str = TOKEN_VARIABLE

    @property
    def configured(self) -> bool:
        return _secret(self.token_variable) is not None

    def client(self) -> AplClient:
        token = _secret(self.token_variable)
        if token is None:
            raise RuntimeError(f"the live Axiom source is off: set {self.token_variable} to turn it on")
        settings = AxiomSettings.from_env()
        return AplClient(settings.url, token, settings.dataset, settings.org_id,
                         page_size=settings.page_size, timeout_s=settings.timeout_s)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"diplo": DiploData(), "wandb_api": WandbApi(), "axiom_api": AxiomApi()})
