"""`python -m bench.scale_out`: the demo build on the embedded default (SQLite instance, lake on disk) beside the
same build on Dagster's PostgreSQL instance with the lake in an S3 bucket, measured in one run on one machine.

The PostgreSQL server and the S3 endpoint are the test suite's (tests/helpers: a real PostgreSQL 15 started as
the `postgres` user; moto's S3 server on 127.0.0.1, standing in for S3/MinIO). Both builds read the same demo
inbox, written once by `diplo demo`'s generator; each starts from an empty data dir and Dagster home.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from diplo_pipeline.demo import generate_demo
from diplo_pipeline.demo.plan import DEFAULT_SEED
from tests.helpers.loopback.s3_server import loopback_s3
from tests.helpers.postgres_server import postgres_server

ROOT = Path(__file__).resolve().parents[1]


def timed_build(inbox: Path, home: Path, extra: dict[str, str]) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIPLO_", "DAGSTER_", "AWS_"))}
    env |= {"PYTHONPATH": str(ROOT), "DAGSTER_HOME": str(home / "dagster_home"), "DIPLO_DATA_DIR": str(home / "data"),
            "DIPLO_WANDB_DIR": str(inbox / "wandb"), "DIPLO_AXIOM_DIR": str(inbox / "axiom"),
            "DIPLO_SWEEP_DIR": str(inbox / "sweeps"), **extra}
    home.mkdir(parents=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "diplo_pipeline.cli", "build"], cwd=home, env=env,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"build failed ({extra or 'embedded'}):\n{done.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "scale_out.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="diplo-scale-out-") as tmp:
        root = Path(tmp)
        inbox = root / "inbox"
        generate_demo(inbox, seed=DEFAULT_SEED)
        embedded = timed_build(inbox, root / "embedded", {})
        with postgres_server() as pg, loopback_s3() as s3:
            scaled = timed_build(inbox, root / "scaled", {**pg.env, **s3.env})
            objects = len(s3.keys())
    result = {"embedded_s": round(embedded, 1), "postgres_and_s3_s": round(scaled, 1),
              "ratio": round(scaled / embedded, 2), "bucket_objects": objects}
    print(f"demo build, embedded (SQLite + local lake): {embedded:7.1f} s")
    print(f"demo build, PostgreSQL + loopback S3:       {scaled:7.1f} s   = {scaled / embedded:.2f}x the embedded"
          f" ({objects} objects in the bucket)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
