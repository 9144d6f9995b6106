"""One more step of a running run through the sensors, as `make dev` serves it (issue 12: visible in
`run_steps`, its findings and its report ≤ 30 s after the file grew).

On a lake `diplo build` has built, the real `dagster-daemon` runs the definitions from workspace.yaml with
this process's DAGSTER_HOME and DIPLO_* variables. Once the offline-runs sensor has ticked with nothing to
do, one training step is appended to the running run's file; from that moment it measures the seconds until
the catalog's `run_steps` holds the step, `marts/findings` is materialised again, and the run's page is
rewritten, and lists every Dagster run the daemon launched meanwhile (the sensor's, the automation's).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb
from dagster._core.scheduler.instigation import TickStatus  # the tick states the daemon records

from diplo_pipeline.defs.keys import FINDINGS
from diplo_pipeline.defs.wandb.sensors import OFFLINE_SENSOR
from diplo_pipeline.lib.settings import DataPaths

ROOT = Path(__file__).resolve().parents[1]
SETTLE_SECONDS = 20  # after the last figure: whatever else the step sets off is launched in this time


def _sensor_ticked_since(instance: dg.DagsterInstance, since: float) -> bool:
    for state in instance.all_instigator_state():
        if state.instigator_name == OFFLINE_SENSOR:
            ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=3)
            return any(tick.timestamp >= since and tick.status != TickStatus.STARTED for tick in ticks)
    return False


def _last_step(catalog: Path, run_id: str) -> int | None:
    """The run's last step in the published catalog; None while it is being replaced or not there yet."""
    try:
        con = duckdb.connect(str(catalog), read_only=True)
    except duckdb.Error:
        return None
    try:
        return con.execute("select max(step) from run_steps where run_id = ?", [run_id]).fetchone()[0]
    except duckdb.Error:
        return None
    finally:
        con.close()


def _runs_since(instance: dg.DagsterInstance, since: float) -> list[dict]:
    runs = []
    for run in instance.get_runs(limit=100):
        stats = instance.get_run_stats(run.run_id)
        if stats.start_time and stats.start_time >= since - 1:
            runs.append({
                "by": run.tags.get("dagster/sensor_name") or run.tags.get("dagster/schedule_name") or "",
                "partition": run.tags.get("dagster/partition"),
                "assets": len(run.asset_selection or ()),
                "status": run.status.value,
                "started_after": round(stats.start_time - since, 1),
                "seconds": round((stats.end_time or time.time()) - stats.start_time, 1),
            })
    return sorted(runs, key=lambda run: run["started_after"])


def through_the_daemon(paths: DataPaths, instance: dg.DagsterInstance, run_id: str, run_name: str,
                       append: Callable[[], int], limit_seconds: float = 300) -> dict:
    """Seconds from `append()` (which writes one step and returns it) until each figure is visible."""
    page = paths.reports / "runs" / f"{run_name}.html"
    log = paths.data_dir.parent / "dagster-daemon.log"  # a file: a pipe nobody reads would stall the daemon
    started = time.time()
    with log.open("w") as out:
        daemon = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")],
            cwd=ROOT, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT)
    try:
        while not _sensor_ticked_since(instance, started):
            if daemon.poll() is not None or time.time() - started > 120:
                raise RuntimeError(f"dagster-daemon never ticked: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        grown = time.time()
        step = append()
        seen: dict[str, float] = {}
        while len(seen) < 3 and time.time() - grown < limit_seconds:
            now = time.time() - grown
            if "run_steps" not in seen and _last_step(paths.published_catalog, run_id) == step:
                seen["run_steps"] = now
            findings = instance.fetch_materializations(FINDINGS, limit=1).records
            if "findings" not in seen and findings and findings[0].timestamp > grown:
                seen["findings"] = now
            if "report" not in seen and page.exists() and page.stat().st_mtime > grown:
                seen["report"] = now
            time.sleep(0.25)
        time.sleep(SETTLE_SECONDS)
        runs = _runs_since(instance, grown)
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
    return {"step": step, "seconds_to": {key: round(value, 1) for key, value in seen.items()},
            "limit_seconds": limit_seconds, "dagster_runs": runs}
