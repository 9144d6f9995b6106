"""Processes on "hosts" of their own sharing one bucket (the object-storage tests): each sees only its
environment, as a `diplo` on another machine would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def host_env(s3, home: Path, inbox: Path, prefix: str, **extra: str) -> dict[str, str]:
    """What a process on its own "host" sees: its own data dir and Dagster home, the shared bucket."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIPLO_", "DAGSTER_", "AWS_"))}
    return {**env, **s3.env, "DIPLO_LAKE_URL": f"s3://{s3.bucket}/{prefix}", "PYTHONPATH": str(ROOT),
            "DAGSTER_HOME": str(home / "dagster_home"), "DIPLO_DATA_DIR": str(home / "data"),
            "DIPLO_WANDB_DIR": str(inbox / "wandb"), "DIPLO_AXIOM_DIR": str(inbox / "axiom"),
            "DIPLO_SWEEP_DIR": str(inbox / "sweeps"), **extra}


def diplo(env: dict[str, str], *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run([sys.executable, "-m", "diplo_pipeline.cli", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def as_a_bucket_host(monkeypatch, s3, **extra: str) -> None:
    """This test process sees the bucket (and `extra`) as a `diplo` process of `host_env` does."""
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)  # it would win over s3.env's AWS_ENDPOINT_URL
    for name, value in {**s3.env, **extra}.items():
        monkeypatch.setenv(name, value)
