"""Shared fixtures: isolated data folders, and runs written by the real WandB SDK (offline)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from diplo_pipeline.lib.settings import DataPaths


def set_mtime(root: Path, epoch: float) -> None:
    """Make every .wandb file under root look last written at `epoch` (an old, idle run)."""
    for path in root.rglob("*.wandb"):
        os.utime(path, (epoch, epoch))


@pytest.fixture
def data_env(tmp_path, monkeypatch) -> DataPaths:
    """A private data root with its own inboxes, configured the way users configure it: env vars."""
    wandb_dir, axiom_dir = tmp_path / "inbox" / "wandb", tmp_path / "inbox" / "axiom"
    wandb_dir.mkdir(parents=True)
    axiom_dir.mkdir(parents=True)
    monkeypatch.setenv("DIPLO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DIPLO_WANDB_DIR", str(wandb_dir))
    monkeypatch.setenv("DIPLO_AXIOM_DIR", str(axiom_dir))
    monkeypatch.setenv("DIPLO_SWEEP_DIR", str(tmp_path / "inbox" / "sweeps"))
    return DataPaths.from_env()


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst
