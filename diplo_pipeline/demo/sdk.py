"""The real WandB SDK in offline mode, set to a simulated clock where the SDK allows it.

The demo generator and the tests both write genuine `.wandb` files through these helpers, so the warehouse is
always exercised against what the SDK really writes (source-formats.md §A).

What can be simulated and what cannot (wandb 0.31):
- the run's start time: `wandb.init` reads `time.time()` in `wandb.sdk.wandb_run`, which `offline_run` swaps
  for the simulated clock while the run is created;
- each row's `_timestamp`: `run.log({..., "_timestamp": t})` is stored as given;
- `_runtime` is measured by wandb-core and stays wall-clock; so does the `offline-run-<now>-<id>` folder name.

wandb is imported inside the functions: the parent process of the generator never logs, and a spawned child
that does should pay the import only once.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import reprlib
import sys
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

PROJECT = "diplomacy-grpo"
# Exit code of a child that raised: distinct from the 1 of a deliberately simulated crash.
_CHILD_FAILED = 70


def sdk_environment(root: Path) -> dict[str, str]:
    """Environment that keeps every file the SDK writes under `root`, offline and quiet."""
    scratch = Path(root) / ".wandb-sdk"
    return {
        "WANDB_DIR": str(root),
        "WANDB_CACHE_DIR": str(scratch / "cache"),
        "WANDB_CONFIG_DIR": str(scratch / "config"),
        "WANDB_DATA_DIR": str(scratch / "data"),
        "WANDB_ARTIFACT_DIR": str(scratch / "artifacts"),
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_CONSOLE": "off",
    }


@contextmanager
def offline_run(
    root: Path,
    *,
    run_id: str,
    name: str,
    start_time: float,
    config: dict,
    tags: list[str],
    project: str = PROJECT,
    resume: bool = False,
    console: str = "off",
    notes: str | None = None,
) -> Iterator[Any]:
    """Open an offline run under `root/wandb/` whose recorded start time is `start_time` (epoch seconds).

    `resume=True` re-opens the same run id the way a restarted trainer or an evaluation job does; offline,
    that writes a second `offline-run-*` folder with the same id. `console="wrap"` records printed lines in
    the run, which `kill_after_flush` needs. The run is finished on normal exit of the block.
    """
    import wandb
    import wandb.sdk.wandb_run as wandb_run_module

    saved_env = {key: os.environ.get(key) for key in sdk_environment(root)}
    os.environ.update(sdk_environment(root))
    real_time = wandb_run_module.time
    wandb_run_module.time = types.SimpleNamespace(
        time=lambda: start_time,
        monotonic=real_time.monotonic,
        sleep=real_time.sleep,
        perf_counter=real_time.perf_counter,
    )
    try:
        run = wandb.init(
            project=project,
            id=run_id,
            name=name,
            tags=tags,
            config=config,
            notes=notes,
            settings=wandb.Settings(
                x_start_time=start_time,
                console=console,
                x_disable_stats=True,
                x_disable_meta=True,
                x_save_requirements=False,
                disable_git=True,
                disable_code=True,
            ),
            **({"resume": "allow"} if resume else {}),
        )
    finally:
        wandb_run_module.time = real_time
    try:
        yield run
    except BaseException:
        run.finish(exit_code=1)
        raise
    else:
        run.finish(exit_code=0)
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_file(run: Any) -> Path:
    """The `.wandb` transaction log of an open run."""
    return Path(run.dir).parent / f"run-{run.id}.wandb"


def kill_after_flush(run: Any, console_line: str, timeout_s: float = 60.0) -> NoReturn:
    """End the process like a killed trainer (no `finish()`, no exit record) once all it logged is on disk.

    wandb-core writes the transaction log in whole 32 KiB blocks, so the records of the last steps stay in
    memory until more data follows them; `os._exit` right after `run.log` loses them. A real trainer keeps
    printing while it works on the next step, and that console output pushes the block out before the kill.
    We do the same: print `console_line` (the run needs `console="wrap"`) until it appears in the file.
    Records are written in order, so everything logged before the line is then on disk.
    """
    path = run_file(run)
    marker = console_line.encode()
    # The captured lines still reach the run through wandb's wrapper; only the terminal is spared.
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    deadline = time.monotonic() + timeout_s
    while marker not in path.read_bytes():
        if time.monotonic() > deadline:
            sys.stderr.write(f"{path} never received the console output: cannot simulate the crash\n")
            os._exit(_CHILD_FAILED)
        for _ in range(40):
            print(console_line, flush=True)
        time.sleep(0.05)
    os._exit(1)


def _child_main(func: Callable[..., Any], args: tuple) -> None:
    # A parent that used `wandb.Api` has a wandb-core service and names it in WANDB_SERVICE; a child that
    # inherited it would write through that shared service, and a simulated crash would then leave its
    # run registered there ("run ID is in use" on resume). Each writer gets a service of its own.
    os.environ.pop("WANDB_SERVICE", None)
    try:
        func(*args)
    except Exception:
        logging.getLogger(__name__).exception("%s failed in its writer process", func.__name__)
        sys.stderr.flush()
        os._exit(_CHILD_FAILED)


def run_in_subprocess(func: Callable[..., Any], *args: Any, crash: bool = False) -> None:
    """Run module-level `func(*args)` in a fresh spawned process and wait for it.

    wandb-core's service belongs to one process, and a crash is simulated by ending that process, so every
    run is written in its own. `crash=True` expects the child to end with exit code 1 (`kill_after_flush`).
    """
    process = multiprocessing.get_context("spawn").Process(target=_child_main, args=(func, args))
    process.start()
    process.join()
    expected = 1 if crash else 0
    if process.exitcode != expected:
        call = f"{func.__name__}{reprlib.repr(args)}"
        raise RuntimeError(f"{call} ended with exit code {process.exitcode}, expected {expected}")
