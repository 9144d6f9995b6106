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


# The planted evaluation of `evaluation_run_with_artifacts` (source-data.md §1.9): what each part holds.
EVAL_CHECKPOINT = "grpo-20251222-190000/adapter_v50"
EVAL_SCALARS = {"random": (0.5, 0.9, 6.5), "chaos": (0.25, 0.8, 4.0), "territorial": (0.1, 0.7, 3.0)}
EVAL_SUMMARY_TABLE = [  # opponent, games, win_rate, survival_rate, avg_centers (random and chaos as the scalars)
    ["random", 20, 0.5, 0.9, 6.5], ["chaos", 20, 0.25, 0.8, 4.0], ["defensive", 12, 0.0, 0.5, 2.25]]
EVAL_RESULTS_TABLE = [  # checkpoint, opponent, win_rate, survival_rate, avg_centers, games_played
    ["grpo-20251222-190000/adapter_v10", "random", 0.3, 0.85, 5.0, 8],
    ["grpo-20251222-190000/adapter_v50", "random", 0.55, 0.95, 7.0, 8]]
EVAL_REPLAYS = {"game_random.html": "<html><body>random game</body></html>",
                "game_chaos.html": "<html><body>chaos game</body></html>"}


def evaluation_run_with_artifacts(root: str, run_id: str) -> None:
    """A standalone evaluation run as `run_evaluation` and `evals/league.py` log it: the scalar eval/vs_* keys,
    `eval/summary_table` and `eval/results_table` (wandb.Table), an HTML replay per opponent (wandb.Html),
    and the `eval-replays-adapter_v50` artifact (type evaluation-replays) holding two replay files."""
    import wandb

    from diplo_pipeline.demo.sdk import offline_run

    with offline_run(Path(root), run_id=run_id, name="eval-grpo-20251222-190000-adapter_v50", start_time=START,
                     config={"checkpoint_path": f"/checkpoints/{EVAL_CHECKPOINT}", "games_per_opponent": 20},
                     tags=["evaluation"]) as run:
        run.log({f"eval/vs_{opponent}/{name}": value for opponent, values in EVAL_SCALARS.items()
                 for name, value in zip(("win_rate", "survival_rate", "avg_centers"), values, strict=True)}
                | {"_timestamp": START + 60})
        run.log({
            "eval/summary_table": wandb.Table(
                columns=["opponent", "games", "win_rate", "survival_rate", "avg_centers"], data=EVAL_SUMMARY_TABLE),
            "eval/results_table": wandb.Table(
                columns=["checkpoint", "opponent", "win_rate", "survival_rate", "avg_centers", "games_played"],
                data=EVAL_RESULTS_TABLE),
            "eval/replay_vs_random": wandb.Html(EVAL_REPLAYS["game_random.html"]),
            "eval/replay_vs_chaos": wandb.Html(EVAL_REPLAYS["game_chaos.html"]),
            "_timestamp": START + 120,
        })
        folder = Path(root) / f"replays-{run_id}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in EVAL_REPLAYS.items():
            (folder / name).write_text(text)
        artifact = wandb.Artifact("eval-replays-adapter_v50", type="evaluation-replays", metadata={"games": 2})
        artifact.add_dir(str(folder))
        run.log_artifact(artifact, aliases=["latest", "adapter_v50"])


RATED_STEPS = 8
BOT_SEEDS = {"chaos_bot": 900.0, "defensive_bot": 950.0, "territorial_bot": 950.0, "coordinated_bot": 1000.0,
             "dumb_bot": 850.0}


def rated_run(root: str, run_id: str, name: str, plan: dict) -> None:
    """A league run with a known final Elo gap and band, for the verdict rules. plan: gap (final best
    checkpoint − base_model), base_final (base_model moves from 1000 to it; default 1000), sigma (the final
    best checkpoint's and base_model's TrueSkill sigma: the band is ± 1.96·40·sqrt(2)·sigma), bot_drop (each
    bot falls this far from its seed), kl_max (the run's largest kl/max), top3, avg_sc, win_bonus (constant
    per step), config (merged).

    Checkpoints v0 and v3 peak above the final best and fall 40 Elo by the end (declining), v6 ends leading:
    2 of 3 checkpoints declining, a positive learning signal."""
    from diplo_pipeline.demo.sdk import offline_run

    gap, sigma, last = plan["gap"], plan["sigma"], RATED_STEPS - 1
    base_final = plan.get("base_final", 1000.0)
    best = base_final + gap
    config = {"learning_rate": 1e-5, "total_steps": RATED_STEPS, "kl_beta": 0.0, **plan.get("config", {})}
    with offline_run(Path(root), run_id=run_id, name=name, start_time=START, config=config, tags=[]) as run:
        for step in range(RATED_STEPS):
            row = _row(step) | {
                "kl/max": plan.get("kl_max", 1.0) if step == 3 else 0.5,
                "placement/top3_rate": plan.get("top3", 0.5),
                "game/avg_sc_count": plan.get("avg_sc", 4.0),
                "game/win_bonus_rate": plan.get("win_bonus", 0.1),
            }
            if step >= 1:
                base = 1000.0 + (base_final - 1000.0) * (step - 1) / (last - 1)
                row |= {"elo/base_model": base, "trueskill/base_model_sigma": sigma}
                for bot, seed in BOT_SEEDS.items():
                    row[f"elo/{bot}"] = seed - plan.get("bot_drop", 0.0) * (step - 1) / (last - 1)
                for checkpoint, start, peak in ((0, 1, 10.0), (3, 4, 15.0)):
                    if step >= start:
                        elo = best + peak - 40.0 * (step - start) / (last - start)
                        row |= {f"elo/{name}_adapter_v{checkpoint}": elo,
                                f"trueskill/{name}_adapter_v{checkpoint}_sigma": 3.0}
                if step == last:
                    row |= {f"elo/{name}_adapter_v6": best, f"trueskill/{name}_adapter_v6_sigma": sigma}
            run.log(row)


def league_run(root: str, run_id: str, name: str, steps: int, options: dict | None = None) -> None:
    """A training run with a league whose Elo gap, reward and extraction reach known values at known steps.

    options: config (merged over the default config), tags, start, gap_per_step (the best checkpoint's Elo
    − base_model's at step s is gap_per_step · s, with TrueSkill sigma 0.1 for both: a ±11.1 Elo band),
    reward_per_step (reward_mean = 2 + reward_per_step · s), kl_max (per step), extraction_from (the step
    from which extraction/rate is 0.97; 0.90 before it).

    Planted, with the defaults (gap 1/step, reward 1/40 per step, extraction from step 20): elo_gap_50 at step
    50; the trailing 10-step reward mean ≥ 3 at step 45 (2 + (s − 4.5)/40 ≥ 3) and ≥ 4 at step 85;
    extraction_rate_0_95 at step 20; cumulative simulated years 563 · (s + 1).
    """
    opts = options or {}
    gap_per_step, reward_per_step = opts.get("gap_per_step", 1.0), opts.get("reward_per_step", 1 / 40)
    kl_max, extraction_from = opts.get("kl_max", 2.0), opts.get("extraction_from", 20)
    config = {"learning_rate": 1e-5, "total_steps": steps, "kl_beta": 0.0, "lora_rank": 16,
              "base_model_id": "Qwen/Qwen2.5-7B-Instruct", **opts.get("config", {})}
    from diplo_pipeline.demo.sdk import offline_run

    checkpoint = f"elo/{name}_adapter_v0"
    with offline_run(Path(root), run_id=run_id, name=name, start_time=opts.get("start", START), config=config,
                     tags=list(opts.get("tags", ()))) as run:
        for step in range(steps):
            row = _row(step)
            row |= {
                "benchmark/reward_mean": 2.0 + reward_per_step * step,
                "kl/max": kl_max,
                "extraction/rate": 0.97 if step >= extraction_from else 0.90,
                "power_law/cumulative_simulated_years": 563.0 * (step + 1),
                "elo/base_model": 1000.0,
                "trueskill/base_model_sigma": 0.1,
                checkpoint: 1000.0 + gap_per_step * step,
                f"trueskill/{name}_adapter_v0_sigma": 0.1,
            }
            run.log(row)
