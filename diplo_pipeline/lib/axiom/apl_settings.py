"""Where live Axiom is and whether it is on: the non-secret settings, read from AXIOM_* variables."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_URL = "https://api.axiom.co"
DEFAULT_DATASET = "diplomacy"
# Live Axiom is on only when this variable holds a token (defs/resources.py reads it when a run needs it).
TOKEN_VARIABLE = "AXIOM_TOKEN"


def live_settings_present() -> bool:
    """Live Axiom is off unless AXIOM_TOKEN is set (WAREHOUSE.md)."""
    return bool(os.environ.get(TOKEN_VARIABLE))


@dataclass(frozen=True)
class AxiomSettings:
    """The non-secret settings of live Axiom; the token is passed separately so it is never stored here."""

    url: str = DEFAULT_URL
    dataset: str = DEFAULT_DATASET
    org_id: str | None = None
    page_size: int = 10_000  # below the 50,000 the legacy endpoint documents; Axiom's own cap is unknown
    timeout_s: float = 30

    @classmethod
    def from_env(cls) -> AxiomSettings:
        return cls(
            url=os.environ.get("AXIOM_URL") or DEFAULT_URL,
            dataset=os.environ.get("AXIOM_DATASET") or DEFAULT_DATASET,
            org_id=os.environ.get("AXIOM_ORG_ID") or None,
        )
