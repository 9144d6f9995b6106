"""WandB rows of a current-era training run (`train_grpo`; source-data.md §1.5-1.8).

One `run.log` row per training step with the full current key set, the benchmark-suite rows of steps
50/100/150 (logged a few steps later, as the evaluation job does, and without `benchmark/step`), and the final
summary row of a run that finishes. Each step's values come from trainer_step_model (the run's `Dynamics` plus
the planted episodes of planted_episodes.py); this module lays them out per process, as each one logs them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from diplo_pipeline.demo.benchmark_suite import suite_result
from diplo_pipeline.demo.experiment_config import experiment_config
from diplo_pipeline.demo.league import league_rows
from diplo_pipeline.demo.planted_episodes import RESUME
from diplo_pipeline.demo.run_catalogue import RunPlan
from diplo_pipeline.demo.timeline import US, RunTimeline, Step, benchmark_evaluations
from diplo_pipeline.demo.trainer_step_model import StepModel

DUMBBOT_STEP_SHARE = 0.1  # steps with a DumbBot 1-vs-6 benchmark rollout (and dumbbot/* keys)


@dataclass(frozen=True)
class RunRows:
    """What each process of a run logs, in order, plus the per-step values for checks and the manifest."""

    segments: list[list[dict]]
    by_step: dict[int, dict]  # the row of each training step that wins (the later write)


def trainer_rows(timeline: RunTimeline, seed: int) -> RunRows:
    run = timeline.run
    rng = random.Random(f"{seed}:wandb:{run.key}")
    model = StepModel(run, rng)
    dumbbot_steps = set(rng.sample(range(1, run.steps), round(DUMBBOT_STEP_SHARE * run.steps)))
    league = league_rows(run.name, run.steps, run.league, dumbbot_steps, rng)
    metrics = [model.metrics(step, step in dumbbot_steps) for step in range(run.steps)]
    evaluations = {e.logged_after_step: e for e in benchmark_evaluations(timeline)}

    segments, by_step = [], {}
    for index, segment in enumerate(timeline.segments):
        rows = []
        for step in segment.steps:
            row = {
                **metrics[step.step],
                **_timing(step, model.groups),
                **league[step.step],
                "_timestamp": step.end_us / US,
            }
            if index > 0 and step.step <= RESUME.crash_after_step:  # the resumed process re-logs these
                row["benchmark/loss"] = round(row["benchmark/loss"] + RESUME.relogged_loss_offset, 6)
            rows.append(row)
            by_step[step.step] = row
            if step.step in evaluations:
                evaluation = evaluations[step.step]
                suite = suite_result(run, evaluation.step, seed).wandb_row(evaluation.step)
                rows.append({**suite, "_timestamp": evaluation.end_us / US + 5})
        segments.append(rows)
    if not timeline.segments[-1].killed:
        segments[-1].append(_final_row(run, timeline, by_step, rng))
    return RunRows(segments, by_step)


def _timing(step: Step, groups: int) -> dict:
    return {
        "benchmark/rollout_time_s": step.rollout_time_s,
        "benchmark/training_time_s": step.training_time_s,
        "benchmark/pipeline_overlap_s": round(max(0.0, step.training_time_s - step.rollout_time_s), 3),
        "rollout/max_volume_reload_s": step.volume_reload_s,
        "rollout/max_total_s": step.max_total_s,
        "rollout/failed_count": step.failed_count,
        "buffer/consumed": groups + step.failed_count,  # collected + failed
    }


def _final_row(run: RunPlan, timeline: RunTimeline, by_step: dict[int, dict], rng: random.Random) -> dict:
    """`wandb.log({"benchmark/complete": True, **summary})` of a run that finished (§1.8)."""
    config = experiment_config(run.name, run.config)
    steps = [by_step[step] for step in sorted(by_step)]
    total_trajectories = sum(
        row["benchmark/trajectories"] + row["processing/total_samples_skipped"] for row in steps
    )
    wall_s = (timeline.end_us - timeline.start_us) / US
    years = (
        config["total_steps"]
        * config["num_groups_per_step"]
        * config["samples_per_group"]
        * config["rollout_horizon_years"]
    )
    last = steps[-1]
    return {
        "benchmark/complete": True,
        "total_trajectories": total_trajectories,
        "total_simulated_years": years,
        "trajectories_per_second": round(total_trajectories / wall_s, 6),
        "simulated_years_per_second": round(years / wall_s, 6),
        "reward_mean": round(sum(row["benchmark/reward_mean"] for row in steps) / len(steps), 6),
        "reward_min": round(-30.0 - rng.uniform(0.0, 4.0), 4),
        "reward_max": round(50.0 + rng.uniform(5.0, 20.0), 4),
        "pipeline_overlap_total_s": round(sum(row["benchmark/pipeline_overlap_s"] for row in steps), 3),
        "run_name": run.name,
        "profiling_mode": None,
        "profile_snapshots": None,
        "trace_dir": None,
        "final_loss": last["benchmark/loss"],
        "final_kl": last["benchmark/kl"],
        "final_reward_mean": last["benchmark/reward_mean"],
        "_timestamp": timeline.end_us / US + 4,
    }
