"""What a trainer process flushes when it ends: GPU samples and its per-step rollout spans.

The trainer flushes only once, at the end of its process, so a killed trainer's `gpu_stats` and
`Benchmark_Rollout_<step>` spans never arrive. The legacy era's trainer logged the old `training_*` and
`checkpoint_saved` events instead of the spans.
"""

from __future__ import annotations

import random

from diplo_pipeline.demo.experiment_config import experiment_config
from diplo_pipeline.demo.legacy_rows import LEGACY_CHECKPOINT_EVERY
from diplo_pipeline.demo.run_catalogue import RunPlan
from diplo_pipeline.demo.simulated_system import GPU_STATS_EVERY_S
from diplo_pipeline.demo.timeline import US, Segment
from diplo_pipeline.demo.trainer_rows import RunRows

GPU_MEMORY_TOTAL = 85_520_809_984  # H100 80 GB, as nvidia-smi reports it


def trainer_events(
    run: RunPlan, segment: Segment, rows: RunRows, rng: random.Random
) -> list[tuple[int, dict]]:
    """What a trainer process flushes when it ends: GPU samples and per-step rollout spans (legacy era: the
    old training_* events instead of the spans)."""
    events = []
    context = f"train_grpo_benchmark:{run.name}"
    at = segment.start_us + 30 * US
    while at < segment.end_us:
        memory = rng.uniform(0.62, 0.74)
        events.append(
            (
                at,
                {
                    "event": "gpu_stats",
                    "context": context,
                    "gpu_utilization": rng.randint(35, 55),
                    "memory_utilization": round(memory * 100),
                    "memory_used": int(GPU_MEMORY_TOTAL * memory),
                    "memory_total": GPU_MEMORY_TOTAL,
                },
            )
        )
        at += GPU_STATS_EVERY_S * US
    if run.era == "legacy":
        return events + _legacy_training_events(run, segment, rows)
    for step in segment.steps:
        span_end = step.start_us + int(step.rollout_time_s * US)
        name = f"Benchmark_Rollout_{step.step}"
        events.append(
            (
                span_end,
                {
                    "event": "span_duration",
                    "span_name": name,
                    "duration_ms": int(step.rollout_time_s * 1000),
                    "status": "success",
                    "error": None,
                },
            )
        )
    return events


def _legacy_training_events(run: RunPlan, segment: Segment, rows: RunRows) -> list[tuple[int, dict]]:
    config = experiment_config(run.name, run.config)
    events: list[tuple[int, dict]] = [
        (
            segment.start_us,
            {
                "event": "training_start",
                "run_name": run.name,
                "total_steps": config["total_steps"],
                "num_groups_per_step": config["num_groups_per_step"],
                "samples_per_group": config["samples_per_group"],
                "model_id": config["base_model_id"],
                "lora_rank": config["lora_rank"],
                "learning_rate": config["learning_rate"],
            },
        )
    ]
    for step in segment.steps:
        row = rows.by_step[step.step]
        events.append(
            (
                step.end_us,
                {
                    "event": "training_step",
                    "step": step.step,
                    "loss": row["loss/total"],
                    "pg_loss": row["loss/policy_gradient"],
                    "kl": row["loss/kl_divergence"],
                    "grad_norm": row["training/grad_norm"],
                    "learning_rate": row["training/learning_rate"],
                    "reward_mean": row["reward/mean"],
                    "reward_std": row["reward/std"],
                    "reward_min": row["reward/min"],
                    "reward_max": row["reward/max"],
                    "num_trajectories": row["data/num_trajectories"],
                    "num_groups": row["data/num_groups"],
                    "skipped_groups": row["data/skipped_groups"],
                    "mean_completion_logprob": row["logprob/policy"],
                    "mean_ref_logprob": row["logprob/reference"],
                    "mean_advantage": row["advantage/mean"],
                    "advantage_std": row["advantage/std"],
                    "rollout_duration_ms": row["timing/rollout_ms"],
                    "training_duration_ms": row["timing/training_ms"],
                    "total_tokens": row["data/total_tokens"],
                    "tokens_per_second": row["timing/tokens_per_second"],
                },
            )
        )
        if step.step % LEGACY_CHECKPOINT_EVERY == 0:
            adapter = f"/data/checkpoints/{run.name}/adapter_v{step.step}"
            events.append(
                (
                    step.end_us + 2 * US,
                    {
                        "event": "checkpoint_saved",
                        "step": step.step,
                        "adapter_path": adapter,
                        "run_name": run.name,
                    },
                )
            )
    duration_ms = (segment.end_us - segment.start_us) // 1000
    events.append(
        (
            segment.end_us + US,
            {
                "event": "training_complete",
                "run_name": run.name,
                "total_steps": len(segment.steps),
                "total_duration_ms": duration_ms,
            },
        )
    )
    return events
