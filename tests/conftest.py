"""Shared fixtures: isolated data folders, and runs written by the real WandB SDK (offline)."""

from __future__ import annotations

import dagster as dg
import pytest

from diplo_pipeline.lib.settings import DataPaths


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
