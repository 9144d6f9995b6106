"""Where the live WandB source is and whether it is on: every setting but the key, from the WANDB_* and
DIPLO_WANDB_* variables (WAREHOUSE.md "Where things live")."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_PROJECT = "diplomacy-grpo"
# Named in messages and in `runs.source_path` when WANDB_BASE_URL is unset (the SDK then picks its own host).
DEFAULT_BASE_URL = "https://wandb.ai"
# The live source is on only when this variable holds a key (defs/resources.py reads it when a run needs it).
KEY_VARIABLE = "WANDB_API_KEY"


@dataclass(frozen=True)
class WandbApiSettings:
    """Everything about the live source except the key."""

    entity: str | None = None  # None: the key's default entity, as WandB resolves it
    project: str = DEFAULT_PROJECT
    base_url: str | None = None  # None: the SDK's default host
    concurrency: int = 4  # parallel history downloads (source-formats.md §B.3 suggests about 4)
    timeout_s: int = 60  # per GraphQL call
    download_timeout_s: float = 900  # per history download or scan (wandb-core retries those on its own)
    attempts: int = 4  # our retries on top of wandb-core's own
    full_listing_every_s: float = 6 * 3600  # how often a full listing looks for deleted runs

    @classmethod
    def from_env(cls) -> WandbApiSettings:
        env = os.environ
        return cls(
            entity=env.get("WANDB_ENTITY") or None,
            project=env.get("WANDB_PROJECT") or DEFAULT_PROJECT,
            base_url=env.get("WANDB_BASE_URL") or None,
            concurrency=int(env.get("DIPLO_WANDB_CONCURRENCY", "4")),
            timeout_s=int(env.get("DIPLO_WANDB_TIMEOUT_S", "60")),
            download_timeout_s=float(env.get("DIPLO_WANDB_DOWNLOAD_TIMEOUT_S", "900")),
            attempts=int(env.get("DIPLO_WANDB_ATTEMPTS", "4")),
            full_listing_every_s=float(env.get("DIPLO_WANDB_FULL_LISTING_S", str(6 * 3600))),
        )

    @property
    def host(self) -> str:
        return (self.base_url or DEFAULT_BASE_URL).rstrip("/")
