"""`diplo build` with the live sources on, against loopback servers standing in for WandB and Axiom.

This machine cannot reach either cloud. The two servers (tests/loopback/) answer real HTTP on 127.0.0.1
in the documented wire formats (WandB: the GraphQL operations and Parquet exports wandb>=0.31,<0.32
sends and reads; Axiom: APL `AplResult`). They are loaded with exactly the demo's data, so the live
build can be compared with the offline build of the same data (the `demo_catalog` fixture).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import orjson
import pytest

from diplo_pipeline.lib.axiom.export_files import discover_exports, parse_export
from diplo_pipeline.lib.lake.duck import duckdb_session
from tests.helpers.loopback.axiom_server import AxiomLoopback
from tests.helpers.loopback.wandb_server import FakeWandb, runs_from_offline

pytestmark = pytest.mark.slow  # builds; tests/conftest.py schedules slow modules first

WANDB_KEY = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7"  # 40 characters, distinctive so a leak is easy to grep
AXIOM_TOKEN = "xaat-5ec7e7-a710-loopback-token"
DIPLO = str(Path(sys.executable).parent / "diplo")

# Tables that must hold the same rows whichever source filled them (columns naming the source excluded).
SAME_TABLES = {
    "runs": "select run_id, run_name, state, created_at, runtime_s, tags, run_kind, sweep_name, sweep_run_letter, "
            "learning_rate, kl_beta, total_steps, last_step, steps_logged from runs",
    # WandB's cloud numbers a resumed run's `_step` on from the server's last one, where the offline
    # segment restarts at its checkpoint: the training steps and values agree, `wandb_step` cannot.
    "run_steps": "select * exclude (wandb_step) from run_steps",
    # An API answer also carries Axiom's storage fields (`_sysTime`, `_rowId`), which exports may lack.
    "axiom_events": "select * exclude (source_file, source_line, payload) from axiom_events",
    "health_hourly": "select * from health_hourly",
    "extraction_by_power": "select * from extraction_by_power",
    "rollout_timing": "select * from rollout_timing",
    "cache_stats": "select * from cache_stats",
    "elo_ratings": "select * from elo_ratings",
    "run_learning": "select * from run_learning",
    "sweeps": "select * from sweeps",
    "findings": "select * from findings",
}


def demo_events(axiom_dir: Path) -> list[dict]:
    """The demo's events once each, as Axiom would hold them (the demo's overlapping export repeats some)."""
    seen: dict[str, dict] = {}
    for path in discover_exports([axiom_dir]):
        parsed = parse_export(path)
        for event_id, payload in zip(parsed.event_ids, parsed.payloads, strict=True):
            seen.setdefault(event_id, orjson.loads(payload))
    return list(seen.values())


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    """Rows in a fixed order; floats to 12 significant digits (an aggregate over the same values read in
    another order differs in the last bits)."""
    fetched = con.execute(f"select * from ({sql}) order by all").fetchall()
    return [tuple(float(f"{v:.12g}") if isinstance(v, float) else v for v in row) for row in fetched]


def run_build(env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run([DIPLO, "build"], check=False, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture
def clouds(demo_catalog):
    inbox = demo_catalog["inbox"]
    with FakeWandb(WANDB_KEY) as wandb_cloud, AxiomLoopback(demo_events(inbox / "axiom"), token=AXIOM_TOKEN) as axiom:
        for run in runs_from_offline([inbox / "wandb"]):
            wandb_cloud.put(run)
        yield wandb_cloud, axiom


def environment(tmp_path: Path, demo_inbox: Path, wandb_cloud: FakeWandb, axiom: AxiomLoopback) -> dict[str, str]:
    empty = tmp_path / "no-files"
    empty.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "AXIOM_", "DIPLO_"))}
    env.update(
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
        DIPLO_DATA_DIR=str(tmp_path / "data"),
        DIPLO_WANDB_DIR=str(empty),  # no offline files: everything comes from the servers
        DIPLO_AXIOM_DIR=str(empty),
        DIPLO_SWEEP_DIR=str(demo_inbox / "sweeps"),
        WANDB_BASE_URL=wandb_cloud.url,
        WANDB_ENTITY=wandb_cloud.entity,
        AXIOM_URL=axiom.url,
        # The demo's days; a real deployment leaves these unset (the last week, up to today).
        DIPLO_AXIOM_SINCE="2025-12-01",
        DIPLO_AXIOM_UNTIL="2025-12-31",
    )
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        env[name] = str(tmp_path / "wandb-sdk" / name.lower())
    return env


def test_without_the_secrets_nothing_touches_the_network(clouds, demo_catalog, tmp_path):
    wandb_cloud, axiom = clouds
    run_build(environment(tmp_path, demo_catalog["inbox"], wandb_cloud, axiom))  # URLs set, no key or token
    assert wandb_cloud.requests == [] and axiom.requests == []


def test_live_build_fills_the_same_tables_and_a_second_build_fetches_only_changes(clouds, demo_catalog, tmp_path):
    wandb_cloud, axiom = clouds
    env = environment(tmp_path, demo_catalog["inbox"], wandb_cloud, axiom)
    env.update(WANDB_API_KEY=WANDB_KEY, AXIOM_TOKEN=AXIOM_TOKEN)

    first = run_build(env)

    with duckdb_session(tmp_path / "data" / "warehouse.duckdb", read_only=True) as live:
        offline = demo_catalog["con"]
        for table, sql in SAME_TABLES.items():
            assert rows(live, sql) == rows(offline, sql), table
        assert live.execute("select distinct source from runs").fetchall() == [("api",)]
        assert live.execute("select count(*) from axiom_events").fetchone()[0] == len(axiom._events)

    # The second build asks each cloud only what changed since: here, nothing.
    wandb_cloud.reset_log()
    axiom.requests.clear()
    second = run_build(env)
    assert set(wandb_cloud.operations()) <= {"Viewer", "GetDefaultEntity", "Runs"}
    assert wandb_cloud.operations()["Runs"] == 1
    assert axiom.requests == []  # every past day was complete after the first build

    # Secrets: in nothing a run wrote (lake, catalog, reports, quarantine, Dagster's run and event
    # storage, compute logs, the SDK's folders) and in nothing it printed.
    for output in (first.stdout, first.stderr, second.stdout, second.stderr):
        assert WANDB_KEY not in output and AXIOM_TOKEN not in output
    leaks = [path for path in tmp_path.rglob("*") if path.is_file() and _holds_secret(path)]
    assert leaks == []


def _holds_secret(path: Path) -> bool:
    data = path.read_bytes()
    return any(secret.encode() in data for secret in (WANDB_KEY, AXIOM_TOKEN))
