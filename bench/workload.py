"""The benchmark workload, built from the demo generator so it has the demo's key set and event mix.

- WandB: `runs` copies of the demo's healthy league run (same metric keys, cadence and league keys),
  each `steps` long, written by the real SDK in offline mode, two processes at a time.
- Axiom: the demo's exported events repeated with shifted times (and distinct rollout ids) until there
  are about `axiom_events` of them, as NDJSON files of one day each.
Generated once per size under bench/results/work-<runs>x<steps>-<events>/ and reused.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from diplo_pipeline.demo.axiom_events import build_axiom_events
from diplo_pipeline.demo.axiom_export import export_line, rfc3339nano
from diplo_pipeline.demo.experiment_config import wandb_config
from diplo_pipeline.demo.plan import DEFAULT_SEED, DemoPlan, build_plan
from diplo_pipeline.demo.timeline import US, build_timelines
from diplo_pipeline.demo.trainer_rows import trainer_rows
from diplo_pipeline.demo.wandb_writer import ProcessWrite, write_processes

SHIFT = timedelta(days=40)  # each copy of the demo's events lands after the previous one


@dataclass(frozen=True)
class Workload:
    root: Path

    @property
    def wandb(self) -> Path:
        return self.root / "wandb"

    @property
    def axiom(self) -> Path:
        return self.root / "axiom"


def ensure_workload(base: Path, runs: int, steps: int, events: int, progress: Callable[[str], None]) -> Workload:
    work = Workload(base / f"work-{runs}x{steps}-{events}")
    done = work.root / "complete.json"
    if done.exists():
        progress(f"reusing workload {work.root}")
        return work
    shutil.rmtree(work.root, ignore_errors=True)
    work.root.mkdir(parents=True)
    write_wandb(work.root, runs, steps, progress)
    write_axiom(work.axiom, events, progress)
    done.write_text(json.dumps({"runs": runs, "steps": steps, "events": events}))
    return work


def _bench_plan(count: int, steps: int, first: int = 0) -> DemoPlan:
    healthy = build_plan(DEFAULT_SEED).run("healthy")
    runs = {}
    for index in range(first, first + count):
        key = f"bench{index:04d}"
        start = healthy.start + timedelta(days=index)
        name = f"grpo-{start:%Y%m%d-%H%M%S}"
        runs[key] = replace(healthy, key=key, run_id=f"bn{index:06d}", name=name, steps=steps, start=start)
    return DemoPlan(DEFAULT_SEED, runs)


def _writes(plan: DemoPlan) -> list[list[ProcessWrite]]:
    timelines = build_timelines(plan)
    out = []
    for key, timeline in timelines.items():
        run = plan.run(key)
        segment_rows = trainer_rows(timeline, DEFAULT_SEED).segments[0]
        out.append([
            ProcessWrite(run.run_id, run.name, timeline.start_us / US, wandb_config(run.name, run.config),
                         list(run.tags), segment_rows, last_time=segment_rows[-1]["_timestamp"])
        ])
    return out


def write_wandb(root: Path, runs: int, steps: int, progress: Callable[[str], None], first: int = 0) -> None:
    """`runs` healthy league runs `bench<first>`… of `steps` steps, under root/wandb/, two SDK processes at a time."""
    batch = 10
    with ThreadPoolExecutor(max_workers=2) as pool:
        for start in range(0, runs, batch):
            writes = _writes(_bench_plan(min(batch, runs - start), steps, first + start))
            list(pool.map(lambda w: write_processes(root, w), writes))
            progress(f"wrote {min(start + batch, runs)}/{runs} WandB runs")
    shutil.rmtree(root / ".wandb-sdk", ignore_errors=True)


def _demo_lines() -> list[dict]:
    """The demo's own Axiom events, as the rows of its export files."""
    plan = build_plan(DEFAULT_SEED)
    timelines = build_timelines(plan)
    from diplo_pipeline.demo.generate import _rows  # the demo's choice of row generator per era

    rows = {key: _rows(timeline, DEFAULT_SEED) for key, timeline in timelines.items()}
    return [json.loads(export_line(e)) for e in build_axiom_events(plan, timelines, rows)]


def _shift(stamp: str, copy: int) -> str:
    from diplo_pipeline.lib.axiom.export_files import parse_time

    moment = parse_time(stamp) + SHIFT * copy
    fraction = stamp.split(".")[1].rstrip("Z") if "." in stamp else ""
    nanos = int(fraction.ljust(9, "0")[:9]) if fraction else 0
    return rfc3339nano(int(moment.replace(microsecond=0).timestamp()) * 1_000_000_000 + nanos)


def write_axiom(directory: Path, target: int, progress: Callable[[str], None]) -> None:
    """About `target` of the demo's Axiom events, copy after copy shifted by SHIFT, as NDJSON files."""
    events = _demo_lines()
    directory.mkdir(parents=True, exist_ok=True)
    written, copy = 0, 0
    while written < target:
        with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp") as handle:
            for event in events[: target - written]:
                row = dict(event)
                row["_time"], row["_sysTime"] = _shift(event["_time"], copy), _shift(event["_sysTime"], copy)
                if "rollout_id" in row and row["rollout_id"] != "inference-engine":
                    row["rollout_id"] = f"{row['rollout_id']}-c{copy}"
                handle.write(json.dumps(row, sort_keys=True, separators=(",", ":")) + "\n")
            written += min(len(events), target - written)
        Path(handle.name).rename(directory / f"bench-copy-{copy:03d}.ndjson")
        copy += 1
        progress(f"wrote {written:,}/{target:,} Axiom events")


def write_extra_run(root: Path) -> None:
    """One more run, for the incremental-build figure."""
    plan = _bench_plan(1, 50, first=9000)
    for writes in _writes(plan):
        write_processes(root, writes)  # lands in root/wandb/offline-run-*: discovery is recursive
