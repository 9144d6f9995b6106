"""WandB rows of the older run kinds: the legacy root-`app.py` trainer (<= 2025-12-05), the legacy power-laws
sweep (2025-12-05), and a standalone evaluation run (source-data.md §1.9, §1.10)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from diplo_pipeline.demo.experiment_config import experiment_config, simulated_years_per_step
from diplo_pipeline.demo.planted_experiments import POWER_LAW_NOISE, POWER_LAW_RUNS, STANDALONE_EVAL
from diplo_pipeline.demo.run_catalogue import RunPlan
from diplo_pipeline.demo.timeline import US, RunTimeline, to_us
from diplo_pipeline.demo.trainer_rows import RunRows

# Direct pairwise Elo of the legacy era (k=16 rollout updates): agent -> (start, end).
LEGACY_ELO = {"base_model": (1000.0, 990.0), "chaos_bot": (900.0, 884.0), "defensive_bot": (950.0, 941.0)}
LEGACY_CHECKPOINT_EVERY = 10
LEGACY_PLAY_CHANCE = 0.6


@dataclass(frozen=True)
class TableValue:
    """A `wandb.Table` to log; built in the writing process, where wandb is imported."""

    columns: list[str]
    data: list[list]


@dataclass(frozen=True)
class HtmlValue:
    """A `wandb.Html` to log (an evaluation's game replay)."""

    html: str


@dataclass(frozen=True)
class ArtifactValue:
    """A `wandb.Artifact` to log after the rows: its files by name, as text."""

    name: str
    type: str
    files: dict[str, str]
    aliases: tuple[str, ...] = ("latest",)


def replay_html(run_name: str, opponent: str) -> str:
    return (f"<html><body><h1>{run_name} vs {opponent}</h1><p>Replay of the last evaluation game.</p>"
            "</body></html>")


def legacy_rows(timeline: RunTimeline, seed: int) -> RunRows:
    run, rng = timeline.run, random.Random(f"{seed}:wandb:{timeline.run.key}")
    d = run.dynamics
    config = experiment_config(run.name, run.config)
    trajectories = config["num_groups_per_step"] * 7  # self-play: about 7 per rollout
    rows, by_step = [], {}
    for step in timeline.segments[0].steps:
        x = step.step / (run.steps - 1)
        reward = d.reward_start + (d.reward_end - d.reward_start) * x + rng.gauss(0.0, d.reward_noise)
        kl = rng.uniform(0.001, 0.01)
        policy_logprob = -24.0 + rng.gauss(0.0, 0.5)
        tokens = trajectories * rng.randint(455, 475)
        training_ms = step.training_time_s * 1000
        row = {
            "step": step.step,
            "loss/total": round(rng.gauss(-0.01, 0.02) + 0.02 * kl, 6),
            "loss/policy_gradient": round(rng.gauss(-0.01, 0.02), 6),
            "loss/kl_divergence": round(kl, 6),
            "training/grad_norm": round(d.grad_norm_level * math.exp(rng.gauss(0.0, 0.15)), 6),
            "training/learning_rate": config["learning_rate"],
            "reward/mean": round(reward, 6),
            "reward/std": round(4.0 + rng.gauss(0.0, 0.3), 6),
            "reward/min": round(-30.0 - rng.uniform(0.0, 3.0), 4),
            "reward/max": round(50.0 + rng.uniform(3.0, 15.0), 4),
            "logprob/policy": round(policy_logprob, 6),
            "logprob/reference": round(policy_logprob - kl * 24, 6),
            "logprob/ratio": round(1.0 + rng.gauss(0.0, 0.003), 6),
            "advantage/mean": round(rng.gauss(0.0, 0.005), 6),
            "advantage/std": round(1.0 + rng.gauss(0.0, 0.01), 6),
            "data/num_trajectories": trajectories,
            "data/num_groups": config["num_groups_per_step"],
            "data/skipped_groups": rng.randint(0, 2),
            "data/total_tokens": tokens,
            "data/avg_completion_tokens": round(rng.uniform(21.0, 27.0), 3),
            "timing/rollout_ms": round(step.rollout_time_s * 1000, 1),
            "timing/training_ms": round(training_ms, 1),
            "timing/tokens_per_second": round(tokens / (training_ms / 1000), 3),
            **_pairwise_elo(run, step.step, rng),
            "_timestamp": step.end_us / US,
        }
        rows.append(row)
        by_step[step.step] = row
    hours = (timeline.end_us - timeline.start_us) / US / 3600
    rows.append(
        {
            "training_complete": True,
            "total_duration_hours": round(hours, 4),
            "_timestamp": timeline.end_us / US + 3,
        }
    )
    return RunRows([rows], by_step)


def _pairwise_elo(run: RunPlan, step: int, rng: random.Random) -> dict:
    """Sparse `elo/<agent>` keys of the agents that played, and how many were updated."""
    x = step / (run.steps - 1)
    ratings = {agent: start + (end - start) * x for agent, (start, end) in LEGACY_ELO.items()}
    for registered in range(0, step, LEGACY_CHECKPOINT_EVERY):
        strength = 25.0 * registered / (run.steps - LEGACY_CHECKPOINT_EVERY)
        ratings[f"{run.name}_adapter_v{registered}"] = 1000.0 + strength * (
            1 - math.exp(-(step - registered) / 3)
        )
    played = {agent: elo for agent, elo in ratings.items() if step == 0 or rng.random() < LEGACY_PLAY_CHANCE}
    row = {f"elo/{agent}": round(elo + rng.gauss(0.0, 1.5), 3) for agent, elo in played.items()}
    row["elo/rollout_updates_count"] = len(played)
    return row


def power_law_rows(timeline: RunTimeline, seed: int) -> RunRows:
    """The legacy benchmark trainer's keys, with reward = a * cumulative_years ** b (plan.POWER_LAW_RUNS)."""
    run, rng = timeline.run, random.Random(f"{seed}:wandb:{timeline.run.key}")
    law = POWER_LAW_RUNS[run.key]
    config = experiment_config(run.name, run.config)
    years_per_step = simulated_years_per_step(config)
    rows, by_step = [], {}
    for step in timeline.segments[0].steps:
        cumulative = (step.step + 1) * years_per_step
        reward = law.coefficient * cumulative**law.exponent * math.exp(rng.gauss(0.0, POWER_LAW_NOISE))
        trajectories = config["num_groups_per_step"] * config["samples_per_group"] - rng.randint(0, 6)
        expected = rng.randint(900, 1300)
        extracted = expected - rng.randint(2, 15)
        row = {
            "benchmark/step": step.step,
            "benchmark/loss": round(rng.gauss(-0.01, 0.02), 6),
            "benchmark/kl": round(rng.uniform(0.005, 0.03), 6),
            "benchmark/reward_mean": round(reward, 6),
            "benchmark/reward_std": round(2.5 + rng.gauss(0.0, 0.2), 6),
            "benchmark/rollout_time_s": step.rollout_time_s,
            "benchmark/training_time_s": step.training_time_s,
            "benchmark/trajectories": trajectories,
            "benchmark/grad_norm": round(run.dynamics.grad_norm_level * math.exp(rng.gauss(0.0, 0.15)), 6),
            "benchmark/pipeline_overlap_s": round(max(0.0, step.training_time_s - step.rollout_time_s), 3),
            "power_law/cumulative_simulated_years": cumulative,
            "power_law/simulated_years_per_step": years_per_step,
            "power_law/reward_at_compute": round(reward, 6),
            "extraction/rate": extracted / expected,
            "extraction/orders_expected": expected,
            "extraction/orders_extracted": extracted,
            "extraction/empty_responses": rng.randint(0, 4),
            "extraction/partial_responses": rng.randint(1, 8),
            "_timestamp": step.end_us / US,
        }
        rows.append(row)
        by_step[step.step] = row
    steps = list(by_step.values())
    wall_s = (timeline.end_us - timeline.start_us) / US
    total = sum(row["benchmark/trajectories"] for row in steps)
    years = (
        config["total_steps"]
        * config["num_groups_per_step"]
        * config["samples_per_group"]
        * config["rollout_horizon_years"]
    )
    rows.append(
        {
            "benchmark/complete": True,
            "total_trajectories": total,
            "total_simulated_years": years,
            "trajectories_per_second": round(total / wall_s, 6),
            "simulated_years_per_second": round(years / wall_s, 6),
            "reward_mean": round(sum(row["benchmark/reward_mean"] for row in steps) / len(steps), 6),
            "run_name": run.name,
            "final_loss": steps[-1]["benchmark/loss"],
            "final_kl": steps[-1]["benchmark/kl"],
            "final_reward_mean": steps[-1]["benchmark/reward_mean"],
            "_timestamp": timeline.end_us / US + 4,
        }
    )
    return RunRows([rows], by_step)


def evaluation_rows(run: RunPlan) -> list[dict]:
    """`run_evaluation`: per-opponent scalars as each opponent's games finish, then the summary table."""
    start = to_us(run.start) / US
    per_opponent = STANDALONE_EVAL.duration_s / len(STANDALONE_EVAL.results)
    rows, table = [], []
    for index, (opponent, (win, survival, centers)) in enumerate(STANDALONE_EVAL.results.items()):
        rows.append(
            {
                f"eval/vs_{opponent}/win_rate": win,
                f"eval/vs_{opponent}/survival_rate": survival,
                f"eval/vs_{opponent}/avg_centers": centers,
                "_timestamp": start + per_opponent * (index + 1) - 2,
            }
        )
        table.append([opponent, STANDALONE_EVAL.games_per_opponent, win, survival, centers])
    columns = ["opponent", "games", "win_rate", "survival_rate", "avg_centers"]
    replays = {f"eval/replay_vs_{opponent}": HtmlValue(replay_html(run.name, opponent))
               for opponent in STANDALONE_EVAL.results}
    rows.append(
        {"eval/summary_table": TableValue(columns, table), **replays, "_timestamp": start + STANDALONE_EVAL.duration_s}
    )
    return rows


def evaluation_artifacts(run: RunPlan) -> tuple[ArtifactValue, ...]:
    """`run_evaluation`'s `eval-replays-adapter_vN` artifact (type evaluation-replays): a replay per opponent."""
    checkpoint = f"adapter_v{STANDALONE_EVAL.checkpoint_step}"
    files = {f"game_vs_{opponent}.html": replay_html(run.name, opponent) for opponent in STANDALONE_EVAL.results}
    return (ArtifactValue(f"eval-replays-{checkpoint}", "evaluation-replays", files, ("latest", checkpoint)),)
