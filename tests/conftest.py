"""Shared fixtures: isolated data folders, and runs written by the real WandB SDK (offline)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from diplo_pipeline.lib.settings import DataPaths

ROOT = Path(__file__).resolve().parents[1]
_PREBUILD = pytest.StashKey[subprocess.Popen]()


@pytest.fixture
def data_env(tmp_path, monkeypatch) -> DataPaths:
    """A private data root with its own inboxes, configured the way users configure it: env vars."""
    wandb_dir, axiom_dir = tmp_path / "inbox" / "wandb", tmp_path / "inbox" / "axiom"
    wandb_dir.mkdir(parents=True)
    axiom_dir.mkdir(parents=True)
    (tmp_path / "inbox" / "sweeps").mkdir()  # a folder named in a variable must exist (lib/source_folders.py)
    monkeypatch.setenv("DIPLO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DIPLO_WANDB_DIR", str(wandb_dir))
    monkeypatch.setenv("DIPLO_AXIOM_DIR", str(axiom_dir))
    monkeypatch.setenv("DIPLO_SWEEP_DIR", str(tmp_path / "inbox" / "sweeps"))
    return DataPaths.from_env()


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


@pytest.fixture(scope="session")
def demo_catalog(tmp_path_factory, worker_id):
    """The demo data generated and built once per test session, shared by every xdist worker (built twice, to
    show the second build is a no-op). Tests read it; none may change it (copy what you need to alter)."""
    import duckdb

    from diplo_pipeline.demo import plan as planted
    from tests.helpers.demo_build import shared_demo

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if worker_id != "master" else base  # the session's folder, above each worker's
    paths, inbox, report, again = shared_demo(shared / "shared", planted.DEFAULT_SEED)
    con = duckdb.connect(str(paths.catalog), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    yield {"con": con, "inbox": inbox, "paths": paths, "plan": planted.build_plan(planted.DEFAULT_SEED),
           "report": report, "again": again}
    con.close()


@pytest.fixture(scope="module")
def demo(demo_catalog):
    return demo_catalog


@pytest.fixture
def diplo(demo, monkeypatch, capsys):
    """Run `diplo ARGS...` in-process against the demo catalog; returns (exit code, stdout, stderr)."""
    from diplo_pipeline import cli

    monkeypatch.setenv("DIPLO_DATA_DIR", str(demo["paths"].data_dir))

    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def terminal(monkeypatch):
    """`terminal(width)`: answers printed from now on go to a terminal `width` columns wide (pytest's stdout is
    not one); returns the buffer that terminal shows."""
    import io

    from rich.console import Console

    from diplo_pipeline.cli import output as cli_output

    def at(width: int) -> io.StringIO:
        screen = io.StringIO()
        monkeypatch.setattr(cli_output, "stdout_console", lambda: Console(
            file=screen, width=width, force_terminal=True, color_system=None, highlight=False))
        return screen

    return at


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium (tests/helpers/devtools.py). Not skipped when missing: `.ci/run` installs it."""
    from tests.helpers.devtools import CHROMIUM, DevTools

    if CHROMIUM is None:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (as .ci/run does)")
    devtools = DevTools(tmp_path / "chromium-profile")
    yield devtools
    devtools.close()


# The demo warehouse takes about a minute to build, and every worker needs it. Left to the first test that
# asks, one worker builds it while the other waits idle for it. With DIPLO_TEST_PREBUILD_DEMO=1 (`make test`
# sets it) the controller starts the build in a process of its own as the session starts, and the tests that
# read it run last, so both workers run other tests meanwhile; the fixture then takes the built demo (the
# same file lock as always: a worker that gets there first waits for the build, never starts a second one).
def pytest_sessionstart(session):
    config = session.config
    if os.environ.get("DIPLO_TEST_PREBUILD_DEMO") != "1" or hasattr(config, "workerinput"):
        return
    from diplo_pipeline.demo import plan as planted

    shared = config._tmp_path_factory.getbasetemp() / "shared"
    code = "import sys; from pathlib import Path; from tests.helpers.demo_build import shared_demo; " \
           "shared_demo(Path(sys.argv[1]), int(sys.argv[2]))"
    config.stash[_PREBUILD] = subprocess.Popen(
        [sys.executable, "-c", code, str(shared), str(planted.DEFAULT_SEED)], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def pytest_unconfigure(config):
    prebuild = config.stash.get(_PREBUILD, None)
    if prebuild is not None and prebuild.poll() is None:
        prebuild.terminate()  # the tests ended (or were interrupted) without needing it
        prebuild.wait(timeout=30)


def pytest_collection_modifyitems(config, items):
    """Modules that read the demo run after the others (see pytest_sessionstart), and within each of the two
    groups the modules marked slow come first: a minute-long module started last keeps one worker busy
    while the other has nothing left to do. Order is otherwise kept (the sort is stable)."""
    reads_demo = {item.module.__name__ for item in items if "demo_catalog" in item.fixturenames}
    items.sort(key=lambda item: (item.module.__name__ in reads_demo, item.get_closest_marker("slow") is None))


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL 15 server, started once per test process (tests/helpers/postgres_server.py). Not skipped
    when missing: `.ci/run` installs Debian's `postgresql`. Tests that must not see each other's Dagster runs take
    a database of their own with `postgres.create_database(name)`."""
    from tests.helpers.postgres_server import postgres_server

    with postgres_server() as server:
        yield server
