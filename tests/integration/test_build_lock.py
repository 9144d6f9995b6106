"""Two `diplo build` at once on a fresh Dagster home: one waits for the other, saying whom it waits for.

Without the lock both create the home's run storage and leave two `alembic_version` rows in runs.db, and
every later build fails.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from diplo_pipeline.lib.lake.build_lock import LOCK_NAME, build_lock

pytestmark = pytest.mark.slow  # builds; tests/conftest.py schedules slow modules first

ROOT = Path(__file__).resolve().parents[2]
EVENTS = [
    {"_time": "2025-12-22T19:10:00Z", "event": "rollout_start", "rollout_id": "r1", "horizon_type": "short"},
    {"_time": "2025-12-22T19:11:00Z", "event": "rollout_complete", "rollout_id": "r1", "total_duration_ms": 60000.0},
]


def _diplo_build(tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DAGSTER_HOME": str(tmp_path / "dagster_home"),
           "DIPLO_DATA_DIR": str(tmp_path / "data"), "DIPLO_AXIOM_DIR": str(tmp_path / "exports")}
    for name in ("DIPLO_WANDB_DIR", "DIPLO_SWEEP_DIR"):
        env.pop(name, None)
    return subprocess.Popen([sys.executable, "-m", "diplo_pipeline.cli", "build"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_builds_at_once_take_turns_and_the_dagster_home_stays_healthy(tmp_path):
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "events.ndjson").write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    builds = [_diplo_build(tmp_path), _diplo_build(tmp_path)]  # a fresh DAGSTER_HOME: neither exists yet
    outcomes = [(b.pid, *b.communicate(timeout=600), b.returncode) for b in builds]
    assert [code for *_, code in outcomes] == [0, 0], [err[-3000:] for _, _, err, _ in outcomes]

    waited = [(pid, err) for pid, _, err, _ in outcomes if "waiting for the build started by PID" in err]
    assert len(waited) == 1  # exactly one had to wait
    waiter, message = waited[0]
    other = next(pid for pid, *_ in outcomes if pid != waiter)
    assert int(re.search(r"started by PID (\d+)", message)[1]) == other  # it named the one it waited for
    assert LOCK_NAME in message

    with sqlite3.connect(tmp_path / "dagster_home" / "history" / "runs.db") as db:
        # one row: two builds creating the run storage at once leave two, and every later build then fails
        assert db.execute("select count(*) from alembic_version").fetchone() == (1,)
        assert db.execute("select count(*) from runs where status = 'SUCCESS'").fetchone()[0] >= 2
    # The lock went with the builds that held it: the next build takes it without waiting.
    with build_lock([tmp_path / "data", tmp_path / "dagster_home"], on_wait=pytest.fail) as held:
        assert len(held) == 2


def test_the_lock_is_keyed_on_each_folder_and_names_its_holder(tmp_path):
    data, home, other_home = tmp_path / "data", tmp_path / "home", tmp_path / "other_home"
    with build_lock([data, home]) as held:
        assert held == sorted([data / LOCK_NAME, home / LOCK_NAME])
        holder = json.loads((data / LOCK_NAME).read_text())
        assert holder["pid"] == os.getpid() and holder["started_at"].endswith("Z")
        # Another process wanting either folder waits; a build with other folders does not.
        code = ("import sys; from pathlib import Path; from diplo_pipeline.lib.lake.build_lock import build_lock\n"
                "with build_lock([Path(sys.argv[1])], on_wait=lambda m: (print(m), sys.exit(3))): pass\n")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        blocked, free = (subprocess.run([sys.executable, "-c", code, str(folder)], env=env, capture_output=True,
                                        text=True, timeout=60, check=False) for folder in (home, other_home))
    assert blocked.returncode == 3 and f"started by PID {os.getpid()}" in blocked.stdout
    assert free.returncode == 0 and free.stdout == ""
