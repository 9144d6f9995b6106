"""Writing one process's worth of a run through the real SDK (see sdk.py), and dating the file afterwards."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from diplo_pipeline.demo.legacy_rows import ArtifactValue, HtmlValue, TableValue
from diplo_pipeline.demo.sdk import kill_after_flush, offline_run, run_in_subprocess


@dataclass(frozen=True)
class ProcessWrite:
    """What one trainer (or evaluation) process logs into a run."""

    run_id: str
    name: str
    start_time: float  # epoch seconds: the process's start
    config: dict
    tags: list[str]
    rows: list[dict]
    resume: bool = False  # re-opens an existing run id (second offline-run folder)
    kill_line: str | None = None  # when set, the process is killed after the rows, printing this line
    last_time: float = 0.0  # simulated time of the last record: the file's mtime, so it looks idle since
    artifacts: tuple[ArtifactValue, ...] = ()  # logged after the rows


def write_process(root: str, write: ProcessWrite) -> None:
    """Entry point of the spawned child: log every row, then finish or get killed."""
    import wandb

    with offline_run(
        Path(root),
        run_id=write.run_id,
        name=write.name,
        start_time=write.start_time,
        config=write.config,
        tags=write.tags,
        resume=write.resume,
        console="wrap" if write.kill_line else "off",
    ) as run:
        for row in write.rows:
            run.log({key: _media(wandb, value) for key, value in row.items()})
        for artifact in write.artifacts:
            folder = Path(root) / ".wandb-sdk" / "artifact-sources" / write.run_id / artifact.name
            folder.mkdir(parents=True, exist_ok=True)
            for name, text in artifact.files.items():
                (folder / name).write_text(text)
            logged = wandb.Artifact(artifact.name, type=artifact.type)
            logged.add_dir(str(folder))
            run.log_artifact(logged, aliases=list(artifact.aliases))
        if write.kill_line:
            kill_after_flush(run, write.kill_line)


def _media(wandb, value):
    if isinstance(value, TableValue):
        return wandb.Table(columns=value.columns, data=value.data)
    if isinstance(value, HtmlValue):
        return wandb.Html(value.html)
    return value


def write_processes(root: Path, writes: list[ProcessWrite]) -> list[Path]:
    """Write a run's processes one after another; return each process's new `.wandb` file."""
    files = []
    for write in writes:
        before = set(_run_files(root, write.run_id))
        if before:
            # The offline folder is named after the wall-clock second: a resumed process must not reuse it.
            _wait_for_next_second(max(path.parent.name for path in before))
        run_in_subprocess(write_process, str(root), write, crash=write.kill_line is not None)
        (written,) = set(_run_files(root, write.run_id)) - before
        if write.kill_line and write.kill_line.encode() not in written.read_bytes():
            # The line is printed after the last row: without it on disk, rows may be missing too.
            raise RuntimeError(f"{written} lacks the console output logged after its last row")
        os.utime(written, (write.last_time, write.last_time))
        files.append(written)
    return files


def _run_files(root: Path, run_id: str) -> list[Path]:
    return sorted((root / "wandb").glob(f"offline-run-*-{run_id}/run-{run_id}.wandb"))


def _wait_for_next_second(folder: str) -> None:
    stamp = folder.split("-")[2]  # offline-run-YYYYMMDD_HHMMSS-<id>
    while time.strftime("%Y%m%d_%H%M%S") <= stamp:
        time.sleep(0.05)
