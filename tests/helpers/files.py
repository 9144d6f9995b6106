"""Small file helpers shared by the tests."""

from __future__ import annotations

import os
from pathlib import Path


def set_mtime(root: Path, epoch: float) -> None:
    """Make every .wandb file under root look last written at `epoch` (an old, idle run)."""
    for path in root.rglob("*.wandb"):
        os.utime(path, (epoch, epoch))
