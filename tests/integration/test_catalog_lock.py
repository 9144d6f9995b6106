"""`diplo` still answers while someone holds the catalog open read-write in the DuckDB CLI (no -readonly).

DuckDB then refuses every other process, read-only ones included ("Conflicting lock"); the CLI answers from
the lake through the views script published beside the catalog, and says so.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

import dagster as dg
import duckdb
import pytest

from diplo_pipeline import cli
from diplo_pipeline.build import build
from diplo_pipeline.definitions import defs
from diplo_pipeline.demo.sdk import run_in_subprocess
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.warehouse.catalog import views_path
from tests.helpers import sdk_runs
from tests.helpers.files import set_mtime

RUN = "grpo-20251222-190000"
EVENTS = [
    {"_time": "2025-12-22T19:10:00Z", "event": "rollout_start", "rollout_id": "r1", "horizon_type": "short"},
    {"_time": "2025-12-22T19:11:00Z", "event": "rollout_complete", "rollout_id": "r1", "total_duration_ms": 60000.0,
     "trajectories_count": 8},
    {"_time": "2025-12-22T19:20:00Z", "event": "inference_error", "error": "CUDA OOM"},
]
COMMANDS = [
    ["runs", "--format", "json"],
    ["run", RUN, "--format", "json"],
    ["metrics", RUN, "-m", "benchmark/loss", "--format", "json"],
    ["health", "--since", "2025-12-22", "--until", "2025-12-23", "--format", "json"],
    ["errors", "--since", "2025-12-22", "--format", "csv"],
    ["sql", "select run_id, count(*) as steps, sum(loss) as loss from run_steps group by all", "--format", "csv"],
    ["sql", "select relation, kind, served from catalog_status order by relation", "--format", "csv"],
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> DataPaths:
    root = tmp_path_factory.mktemp("locked")
    paths = DataPaths(root / "data", (root / "wandb",), (root / "axiom",), root / "sweeps")
    run_in_subprocess(sdk_runs.simple_run, str(root / "wandb"), "lock0001", RUN, 12)
    set_mtime(root / "wandb", sdk_runs.START + 86400)
    (root / "axiom").mkdir()
    (root / "axiom" / "events.ndjson").write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {"DIPLO_DATA_DIR": paths.data_dir, "DIPLO_WANDB_DIR": root / "wandb",
                            "DIPLO_AXIOM_DIR": root / "axiom", "DIPLO_SWEEP_DIR": root / "sweeps"}.items():
            mp.setenv(name, str(value))
        with dg.DagsterInstance.ephemeral() as instance:
            build(defs(), instance, paths)
    return paths


@pytest.fixture
def diplo(warehouse, monkeypatch, capsys):
    monkeypatch.setenv("DIPLO_DATA_DIR", str(warehouse.data_dir))

    def run(argv: list[str]) -> tuple[int, str, str]:
        code = cli.main(argv)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _lock_is_held(catalog: Path) -> bool:
    try:
        duckdb.connect(str(catalog), read_only=True).close()
    except duckdb.IOException as exc:
        return "Conflicting lock" in str(exc)
    return False


class ReadWriteHolder:
    """The DuckDB CLI with the catalog open read-write, kept open on a pipe, as a person would leave it."""

    def __init__(self, catalog: Path):
        self.catalog = catalog
        duckdb_cli = Path(sys.executable).parent / "duckdb"
        self.process = subprocess.Popen([str(duckdb_cli), str(catalog)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def __enter__(self) -> Self:
        # The CLI says when it holds the file, by writing a file of its own. Probing the lock from here instead
        # would race with the CLI's own open: a probe opening the file at that moment makes the CLI fail.
        ready = self.catalog.with_name("holder-ready.txt")
        ready.unlink(missing_ok=True)
        self.process.stdin.write("create table scratch_by_a_person as select 42 as answer;\n")  # read-write
        self.process.stdin.write(f".output {ready}\nselect 'held';\n.output\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + 30
        while not (ready.exists() and "held" in ready.read_text()):
            assert self.process.poll() is None, self.process.stderr.read()
            assert time.monotonic() < deadline, "the DuckDB CLI never took the lock"
            time.sleep(0.2)
        ready.unlink()
        assert _lock_is_held(self.catalog)
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.process.communicate(".quit\n", timeout=30)
        finally:
            self.process.kill()


def test_queries_answer_the_same_while_the_catalog_is_held_read_write(warehouse, diplo):
    before = [diplo(argv) for argv in COMMANDS]
    assert all(code == 0 and out and not err for code, out, err in before), before
    with ReadWriteHolder(warehouse.catalog):
        during = [diplo(argv) for argv in COMMANDS]
        # The PID named is the live DuckDB CLI holding the file (the .venv/bin/duckdb wrapper runs it).
        pid = int(re.search(r"by PID (\d+)", during[0][2])[1])
        assert "duckdb" in Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    for argv, (_, out_before, _), (code, out, err) in zip(COMMANDS, before, during, strict=True):
        assert code == 0 and out == out_before, (argv, err)
        assert "held open read-write by PID" in err and "answering from the lake" in err and "Traceback" not in err
        assert str(warehouse.catalog) in err


def test_without_a_views_script_the_cli_says_who_holds_the_lock(warehouse, diplo, tmp_path):
    script = views_path(warehouse.catalog)
    kept = tmp_path / script.name
    script.rename(kept)
    try:
        with ReadWriteHolder(warehouse.catalog):
            code, out, err = diplo(["runs"])
            sql_code, sql_out, sql_err = diplo(["sql", "select 1"])
    finally:
        kept.rename(script)
    assert (code, out, sql_code, sql_out) == (2, "", 2, "")
    for message in (err, sql_err):
        assert "held open read-write by PID" in message and "-readonly" in message and "Traceback" not in message
