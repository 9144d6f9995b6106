"""Runs as the WandB API lists them, as plain records (kept between syncs in the listing state)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ApiRun:
    """One run as the API lists it (the full fragment: config and summary come with the listing)."""

    run_id: str
    display_name: str | None
    state: str
    created_at: str  # WandB's own timestamp strings, kept as sent
    heartbeat_at: str
    entity: str
    project: str
    tags: tuple[str, ...] = ()
    group: str | None = None
    job_type: str | None = None
    notes: str | None = None
    sweep_name: str | None = None
    history_line_count: int | None = None
    last_step: int | None = None  # historyKeys.lastStep: the highest `_step` the server holds
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "tags": list(self.tags)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ApiRun:
        return cls(**{**data, "tags": tuple(data.get("tags") or ())})


def api_run_from_listing(run, entity: str, project: str) -> ApiRun:
    """One node of an SDK listing (`wandb.Api().runs(...)`) as a record."""
    attrs = run._attrs  # the GraphQL node as listed; the public properties would fetch more
    history_keys = attrs.get("historyKeys") or {}
    if isinstance(history_keys, str):
        history_keys = json.loads(history_keys)
    summary = attrs.get("summaryMetrics") or {}
    if isinstance(summary, str):
        summary = json.loads(summary)
    return ApiRun(
        run_id=attrs["name"],
        display_name=attrs.get("displayName"),
        state=attrs.get("state") or "unknown",
        created_at=attrs.get("createdAt") or "",
        heartbeat_at=attrs.get("heartbeatAt") or attrs.get("createdAt") or "",
        entity=entity,
        project=project,
        tags=tuple(attrs.get("tags") or ()),
        group=attrs.get("group"),
        job_type=attrs.get("jobType"),
        notes=attrs.get("notes"),
        sweep_name=attrs.get("sweepName"),
        history_line_count=attrs.get("historyLineCount"),
        last_step=history_keys.get("lastStep"),
        config=dict(attrs.get("config") or {}),
        summary=dict(summary),
    )
