"""Runs written by the real WandB SDK in offline mode, each in its own process (see demo/sdk.py).

Module-level functions so `run_in_subprocess` can start them in a fresh interpreter.
"""

from __future__ import annotations

import time
from pathlib import Path

START = 1_766_430_000.0  # 2025-12-22T19:00:00Z
STEP_S = 180.0


def _row(step: int, **extra) -> dict:
    return {
        "benchmark/step": step,
        "benchmark/loss": 0.05 + step / 1000,
        "benchmark/kl": 0.02,
        "benchmark/reward_mean": 3.0 + step / 100,
        "benchmark/grad_norm": 2.0,
        "benchmark/rollout_time_s": 120.0,
        "benchmark/training_time_s": 60.0,
        "benchmark/trajectories": 960,
        "power_law/simulated_years_per_step": 563,
        "_timestamp": START + STEP_S * step,
        **extra,
    }


def simple_run(root: str, run_id: str, name: str, steps: int, options: dict | None = None) -> None:
    """options: first_step, start, resume, crash (die without an exit record), loss_offset, tags, notes, and
    config (merged over the default config)."""
    opts = options or {}
    first_step, start = opts.get("first_step", 0), opts.get("start", START)
    resume, crash, loss_offset = opts.get("resume", False), opts.get("crash", False), opts.get("loss_offset", 0.0)
    tags = opts.get("tags", ())
    config = {"learning_rate": 1e-5, "total_steps": steps, "kl_beta": 0.0, **opts.get("config", {})}
    from diplo_pipeline.demo.sdk import kill_after_flush, offline_run

    with offline_run(Path(root), run_id=run_id, name=name, start_time=start, config=config, tags=list(tags),
                     resume=resume, console="wrap" if crash else "off", notes=opts.get("notes")) as run:
        for step in range(first_step, first_step + steps):
            row = _row(step)
            row["benchmark/loss"] += loss_offset
            run.log(row)
        if crash:
            kill_after_flush(run, f"{run_id}: killed after step {first_step + steps - 1}")


def edge_case_run(root: str, run_id: str) -> None:
    """NaN/inf, strings, booleans, None, nested dicts, media, sparse keys and a step jump."""
    import wandb

    from diplo_pipeline.demo.sdk import offline_run

    with offline_run(Path(root), run_id=run_id, name="grpo-20251222-190000", start_time=START,
                     config={"learning_rate": 1e-5, "pfsp_weights": {"self": 0.3, "peer": 0.3}},
                     tags=["edge"]) as run:
        steps = list(range(10)) + list(range(20, 25))  # a step jump: 10..19 were never logged
        for i, step in enumerate(steps):
            row = _row(step)
            row["benchmark/loss"] = float("nan") if step == 3 else row["benchmark/loss"]
            row["ppo/is_ratio_max"] = float("inf") if step == 4 else 1.2
            row["benchmark/used_cached_ref_logprobs"] = step % 2 == 0
            row["trace_dir"] = None
            row["profiling_mode"] = "rollout"
            row["nested"] = {"a": i, "b": {"c": 0.5}}
            if step % 5 == 0:  # sparse: an agent that only plays some steps
                row["elo/grpo-20251222-190000_adapter_v0"] = 1000.0 + step
            if step == 20:
                row["games"] = wandb.Table(columns=["opponent", "win_rate"], data=[["random", 0.9]])
                row["hist"] = wandb.Histogram([1, 2, 2, 3])
            run.log(row)
        run.log({"benchmark/evaluation_step": 20, "benchmark/overall_score": 55.5, "_timestamp": START + 5000})


def growing_run(root: str, run_id: str, signal_dir: str) -> None:
    """A trainer that logs 20 steps, waits while the warehouse reads its live file, then logs 20 more."""
    from diplo_pipeline.demo.sdk import offline_run, run_file

    signals = Path(signal_dir)
    with offline_run(Path(root), run_id=run_id, name="grpo-20251224-100000", start_time=START,
                     config={"total_steps": 40}, tags=[], console="wrap") as run:
        for step in range(20):
            run.log(_row(step))
        marker = b"step 19 done"
        while marker not in run_file(run).read_bytes():  # push the records out of wandb-core's buffer
            for _ in range(40):
                print(marker.decode(), flush=True)
            time.sleep(0.05)
        (signals / "ready").touch()
        deadline = time.monotonic() + 120
        while not (signals / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        for step in range(20, 40):
            run.log(_row(step))


def tied_checkpoints_run(root: str, run_id: str, name: str) -> None:
    """A league run whose two checkpoints stand on the same Elo at every rated step, with different sigmas."""
    from diplo_pipeline.demo.sdk import offline_run

    with offline_run(Path(root), run_id=run_id, name=name, start_time=START, config={"total_steps": 10},
                     tags=["league"]) as run:
        for step in range(10):
            row = _row(step)
            if step >= 4:
                row |= {"elo/base_model": 1000.0 - step, "trueskill/base_model_sigma": 1.0}
                for checkpoint, sigma in ((0, 2.0), (4, 5.0)):  # adapter_v0 and adapter_v4, both on 1040
                    row |= {f"elo/{name}_adapter_v{checkpoint}": 1040.0,
                            f"trueskill/{name}_adapter_v{checkpoint}_sigma": sigma}
            run.log(row)
