"""Live-source ingest throughput against the loopback servers of the tests, in a process of their own.

The servers (tests/helpers/loopback/) stand in for WandB and Axiom, which this machine cannot reach; they run in a
separate process so their own work does not share the ingesting process's interpreter. They are loaded
with the benchmark's own workload, so the figures sit beside the offline readers on the same data.
"""

from __future__ import annotations

import multiprocessing as mp
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import orjson

WANDB_KEY = "bench0" * 6 + "0000"  # 40 characters; the loopback server's key, not a real one
AXIOM_TOKEN = "xaat-bench-loopback"


def _serve(wandb_dir: str, axiom_files: list[str], ready, stop) -> None:
    from diplo_pipeline.lib.axiom.export_files import parse_export
    from tests.helpers.loopback.axiom_server import AxiomLoopback
    from tests.helpers.loopback.wandb_server import FakeWandb, runs_from_offline

    events: dict[str, dict] = {}
    for path in axiom_files:
        parsed = parse_export(Path(path))
        for event_id, payload in zip(parsed.event_ids, parsed.payloads, strict=True):
            events.setdefault(event_id, orjson.loads(payload))
    with FakeWandb(WANDB_KEY) as wandb_cloud, AxiomLoopback(list(events.values()), token=AXIOM_TOKEN) as axiom:
        for run in runs_from_offline([Path(wandb_dir)]):
            wandb_cloud.put(run)
            wandb_cloud.parquet_file(run.run_id)  # exports made before the clock starts, as WandB has them
        ready.send({"wandb": wandb_cloud.url, "entity": wandb_cloud.entity, "axiom": axiom.url,
                    "runs": len(wandb_cloud.runs), "events": len(events)})
        stop.wait()


@contextmanager
def loopback_clouds(wandb_dir: Path, axiom_files: list[Path]) -> Iterator[dict]:
    context = mp.get_context("spawn")
    ready_recv, ready_send = context.Pipe(duplex=False)
    stop = context.Event()
    server = context.Process(target=_serve, args=(str(wandb_dir), [str(p) for p in axiom_files], ready_send, stop),
                             daemon=True)
    server.start()
    try:
        yield ready_recv.recv()
    finally:
        stop.set()
        server.join(30)


def wandb_live_ingest(info: dict, data_dir: Path) -> int:
    """Sync every run from the loopback WandB (listing, Parquet exports); returns metric points written."""
    from diplo_pipeline.lib.settings import DataPaths
    from diplo_pipeline.lib.wandb import api_sync
    from diplo_pipeline.lib.wandb.api_client import WandbApiSource
    from diplo_pipeline.lib.wandb.api_settings import WandbApiSettings

    settings = WandbApiSettings(entity=info["entity"], base_url=info["wandb"])
    source = WandbApiSource(WANDB_KEY, settings)
    with tempfile.TemporaryDirectory() as work:
        results = api_sync.sync(source, DataPaths.from_env(data_dir), Path(work))
    failed = [r for r in results.values() if isinstance(r, Exception)]
    if failed:
        raise failed[0]
    return sum(r.metric_points for r in results.values())


def axiom_live_ingest(info: dict, data_dir: Path, days: list[str]) -> int:
    """Fetch every day from the loopback Axiom, stage it and build the day partitions; returns rows."""
    from diplo_pipeline.lib.axiom import apl_sync, day_partitions, pending_days
    from diplo_pipeline.lib.axiom.apl_client import AplClient
    from diplo_pipeline.lib.settings import DataPaths

    paths = DataPaths.from_env(data_dir)
    now = datetime.now(UTC)
    with AplClient(info["axiom"], AXIOM_TOKEN, "diplomacy") as client:
        for day in days:
            apl_sync.fetch_day(client, paths, day, now)
    return sum(day_partitions.build_days(paths, pending_days.pending_days(paths)).values())
