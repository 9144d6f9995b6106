"""WandB rows of a current-era training run (`train_grpo`; source-data.md §1.5-1.8).

One `run.log` row per training step with the full current key set, the benchmark-suite rows of steps
50/100/150 (logged a few steps later, as the evaluation job does, and without `benchmark/step`), and the final
summary row of a run that finishes. Values follow the run's `Dynamics` plus the planted episodes of plan.py.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from diplo_pipeline.demo.benchmark_suite import suite_result
from diplo_pipeline.demo.experiment_config import experiment_config, simulated_years_per_step
from diplo_pipeline.demo.league import league_rows
from diplo_pipeline.demo.planted_episodes import DIVERGENCE, EXTRACTION_DROP, RESUME
from diplo_pipeline.demo.run_catalogue import RunPlan
from diplo_pipeline.demo.simulated_system import POWERS
from diplo_pipeline.demo.timeline import US, RunTimeline, Step, benchmark_evaluations

DUMBBOT_STEP_SHARE = 0.1  # steps with a DumbBot 1-vs-6 benchmark rollout (and dumbbot/* keys)
KL_EMA_ALPHA = 2 / (10 + 1)  # kl_horizon = 10


@dataclass(frozen=True)
class RunRows:
    """What each process of a run logs, in order, plus the per-step values for checks and the manifest."""

    segments: list[list[dict]]
    by_step: dict[int, dict]  # the row of each training step that wins (the later write)


def trainer_rows(timeline: RunTimeline, seed: int) -> RunRows:
    run = timeline.run
    rng = random.Random(f"{seed}:wandb:{run.key}")
    model = _StepModel(run, rng)
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


class _StepModel:
    """Per-step values of one run; called for steps in order (the KL EMA carries over)."""

    def __init__(self, run: RunPlan, rng: random.Random) -> None:
        self.run = run
        self.rng = rng
        self.config = experiment_config(run.name, run.config)
        self.years_per_step = simulated_years_per_step(self.config)
        self.groups = self.config["num_groups_per_step"]
        self.kl_ema: float | None = None

    def progress(self, step: int) -> float:
        return step / max(1, self.run.steps - 1)

    def reward(self, step: int) -> float:
        d = self.run.dynamics
        value = d.reward_start + (d.reward_end - d.reward_start) * self.progress(step)
        if self.run.key == DIVERGENCE.run_key and step >= DIVERGENCE.grad_norm_spike_step:
            # The policy collapses at the spike and only partly recovers.
            since = (step - DIVERGENCE.grad_norm_spike_step) / max(
                1, self.run.steps - DIVERGENCE.grad_norm_spike_step
            )
            value *= 0.85 + 0.10 * since
        noise = max(-2.5, min(2.5, self.rng.gauss(0.0, 1.0))) * d.reward_noise
        return value + noise

    def metrics(self, step: int, dumbbot: bool) -> dict:
        rng, d = self.rng, self.run.dynamics
        x = self.progress(step)
        reward = self.reward(step)
        skill = max(0.0, min(1.0, (reward - 2.0) / 2.6))
        kl = min(
            max(d.kl_start + (d.kl_end - d.kl_start) * x + rng.gauss(0.0, 0.002), 0.7 * d.kl_start),
            1.2 * d.kl_end,
        )
        kl_max = min(d.kl_max_level * (0.6 + 0.4 * x) * math.exp(rng.gauss(0.0, 0.25)), 2.6 * d.kl_max_level)
        grad_norm = d.grad_norm_level * (1 + 0.15 * math.sin(step / 9)) * math.exp(rng.gauss(0.0, 0.12))
        loss = -0.01 + 0.02 * max(-2.5, min(2.5, rng.gauss(0.0, 1.0)))
        clip_fraction = rng.uniform(0.01, 0.05)
        entropy = 0.85 - 0.25 * x + rng.gauss(0.0, 0.01)
        if self.run.key == DIVERGENCE.run_key:
            kl, kl_max, grad_norm, loss, clip_fraction, entropy = self._diverge(
                step, kl, kl_max, grad_norm, loss, clip_fraction, entropy
            )
        self.kl_ema = kl if self.kl_ema is None else self.kl_ema + KL_EMA_ALPHA * (kl - self.kl_ema)
        kl_beta = self.config["kl_beta"]
        warmup = min(1.0, step / self.config["kl_beta_warmup_steps"]) if kl_beta > 0 else 1.0

        skip_rate = rng.uniform(0.05, 0.18)
        trajectories = int(rng.gauss(960, 60))
        raw = round(trajectories / (1 - skip_rate))
        ending = step >= self.run.steps - 3  # the buffer drains and nothing new is spawned
        in_flight = 0 if ending else rng.randint(10, 20)
        row = {
            "benchmark/step": step,
            "benchmark/loss": round(loss, 6),
            "benchmark/kl": round(kl, 6),
            "benchmark/reward_mean": round(reward, 6),
            "benchmark/reward_std": round(3.0 + 0.5 * x + rng.gauss(0.0, 0.15), 6),
            "benchmark/trajectories": trajectories,
            "benchmark/grad_norm": round(grad_norm, 6),
            "benchmark/used_cached_ref_logprobs": False,
            "buffer/depth": in_flight,
            "buffer/spawned": 0 if ending else self.groups,
            "buffer/collection_polls": rng.randint(0, 3),
            "containers/in_flight": in_flight,
            "containers/cap": self.config["max_concurrent_containers"],
            "containers/utilization": in_flight / self.config["max_concurrent_containers"],
            **self._extraction(step),
            "game/avg_sc_count": round(3.6 + 1.0 * skill + rng.gauss(0.0, 0.15), 4),
            "game/win_bonus_rate": round(min(1.0, max(0.0, 0.08 + 0.12 * skill + rng.gauss(0.0, 0.02))), 4),
            "game/total_games": self.config["num_groups_per_step"] * self.config["samples_per_group"],
            "power_law/cumulative_simulated_years": (step + 1) * self.years_per_step,
            "power_law/simulated_years_per_step": self.years_per_step,
            "power_law/reward_at_compute": round(reward, 6),
            "kl/mean": round(kl, 6),
            "kl/max": round(kl_max, 6),
            "kl/min": round(rng.uniform(1e-6, 1e-4), 8),
            "kl/std": round(kl * rng.uniform(1.5, 2.1), 6),
            "kl/beta": round(kl_beta * warmup, 6),
            "kl/warmup_progress": round(warmup, 4),
            "kl/ema": round(self.kl_ema, 6),
            "kl/beta_adjusted": 0,
            "advantage/mean": round(rng.gauss(0.0, 0.005), 6),
            "advantage/std": round(1.0 + rng.gauss(0.0, 0.01), 6),
            "advantage/min": round(-rng.uniform(2.5, 4.5), 4),
            "advantage/max": round(rng.uniform(2.5, 5.0), 4),
            "advantage/clipped_count": 0,
            "processing/skip_rate": round(skip_rate, 6),
            "processing/skipped_single_sample": 0,
            "processing/skipped_zero_variance": round((raw - trajectories) / 8),
            "processing/effective_batch_size": trajectories,
            "processing/total_samples_skipped": raw - trajectories,
            "ppo/ratio_mean": round(1.0 + rng.gauss(0.0, 0.002), 6),
            "ppo/ratio_std": round(rng.uniform(0.02, 0.05), 6),
            "ppo/clip_fraction": round(clip_fraction, 6),
            "ppo/rollout_logprobs_rate": 1.0,
            "policy/entropy_mean": round(entropy, 6),
            "policy/entropy_std": round(0.3 + rng.gauss(0.0, 0.01), 6),
            "ppo/is_ratio_mean": round(1.02 + rng.gauss(0.0, 0.01), 6),
            "ppo/is_ratio_std": round(rng.uniform(0.04, 0.08), 6),
            "ppo/is_ratio_min": round(rng.uniform(0.6, 0.8), 6),
            "ppo/is_ratio_max": round(rng.uniform(1.5, 2.6), 6),
            "ppo/is_masked_fraction": 0.0,
            "logprob/token_min": round(-rng.uniform(9.0, 14.0), 4),
            "logprob/token_max": round(-rng.uniform(1e-5, 1e-4), 8),
            "logprob/token_mean": round(-0.35 + 0.1 * x + rng.gauss(0.0, 0.01), 6),
            "logprob/diff_mean": round(rng.uniform(0.005, 0.02), 6),
            "logprob/diff_std": round(rng.uniform(0.03, 0.07), 6),
            "logprob/diff_max": round(rng.uniform(0.3, 0.9), 6),
            "gspo/sequence_ratio_mean": 1.0,
            "gspo/sequence_ratio_std": 0.0,
            "gspo/sequence_ratio_clipped_fraction": 0.0,
            "gspo/log_ratio_mean": 0.0,
            **self._placements(skill),
            **self._opponents(step, reward, dumbbot),
        }
        if dumbbot:
            row.update(self._dumbbot(skill))
        return row

    def _diverge(self, step, kl, kl_max, grad_norm, loss, clip_fraction, entropy):
        """The planted instability: KL and clip fraction blow up around the grad-norm spike."""
        rng, plan = self.rng, DIVERGENCE
        first, last = plan.kl_high_steps
        if first <= step <= last:
            kl = rng.uniform(*plan.kl_high_range)
            clip_fraction = rng.uniform(0.3, 0.6)
            entropy *= 0.8
        elif step > last:
            kl = rng.uniform(0.06, 0.09)  # settles higher than before, under the 0.1 warning
        if plan.kl_max_steps[0] <= step <= plan.kl_max_steps[1]:
            kl_max = rng.uniform(*plan.kl_max_range)
            loss = rng.uniform(0.3, 0.8)
        if step == plan.grad_norm_spike_step:
            grad_norm, kl_max = plan.grad_norm_spike, plan.kl_max_peak
        elif abs(step - plan.grad_norm_spike_step) == 1:
            grad_norm = rng.uniform(10.0, 16.0)
        return kl, kl_max, grad_norm, loss, clip_fraction, entropy

    def _extraction(self, step: int) -> dict:
        rng, rate = self.rng, self.run.dynamics.extraction_rate
        rate = rng.uniform(rate - 0.005, min(0.999, rate + 0.006))
        empty, partial = rng.randint(0, 6), rng.randint(2, 14)
        plan = EXTRACTION_DROP
        if self.run.key == plan.run_key and plan.dip_steps[0] <= step <= plan.dip_steps[1]:
            # One power of seven loses half its orders: the step's order-weighted rate drops to ~0.92.
            rate = (6 * rate + plan.wandb_italy_rate_in_dip) / 7
            empty += rng.randint(15, 30)
            partial += rng.randint(20, 40)
        expected = rng.randint(2600, 3400)
        extracted = round(rate * expected)
        return {
            "extraction/rate": extracted / expected,
            "extraction/orders_expected": expected,
            "extraction/orders_extracted": extracted,
            "extraction/empty_responses": empty,
            "extraction/partial_responses": partial,
        }

    def _placements(self, skill: float) -> dict:
        games = self.config["num_groups_per_step"] * self.config["samples_per_group"]
        sharpness = 0.05 + 0.25 * skill
        ranks = self.rng.choices(range(1, 8), weights=[math.exp(-sharpness * k) for k in range(7)], k=games)
        counts = [ranks.count(rank) for rank in range(1, 8)]
        names = ("1st", "2nd", "3rd", "4th", "5th", "6th", "7th")
        row = {f"placement/{name}_rate": count / games for name, count in zip(names, counts, strict=True)}
        row["placement/top3_rate"] = sum(counts[:3]) / games
        row["placement/bottom3_rate"] = sum(counts[4:]) / games
        row["placement/mean_rank"] = sum(ranks) / games
        return row

    def _opponents(self, step: int, reward: float, dumbbot: bool) -> dict:
        """PFSP shares of opponent slots, hero powers, and rewards by dominant opponent category."""
        rng = self.rng
        groups = self.config["num_groups_per_step"]
        league_rollouts = groups - (1 if dumbbot else 0)
        categories = [
            "baseline" if step == 0 else ("self" if rng.random() < 0.15 else "peer")
            for _ in range(league_rollouts)
        ]
        slots = 6 * groups
        row = {}
        for category in ("self", "peer", "baseline"):
            count = categories.count(category)
            if count:
                row[f"pfsp/{category}_rate"] = round(6 * count / slots, 6)
                row[f"opponent/{category}/reward_mean"] = round(reward + rng.gauss(0.0, 0.4), 6)
                row[f"opponent/{category}/game_count"] = count
                row[f"opponent/{category}/trajectory_count"] = count * rng.randint(55, 65)
        if dumbbot:
            row["pfsp/dumbbot_benchmark_rate"] = round(6 / slots, 6)
        heroes = rng.choices(POWERS, k=groups)
        for power in sorted(set(heroes)):
            row[f"pfsp/hero_{power.lower()}"] = heroes.count(power) / groups
        return row

    def _dumbbot(self, skill: float) -> dict:
        rng = self.rng
        games = self.config["samples_per_group"]
        wins = min(games, max(0, round(games * (0.3 + 0.3 * skill) + rng.uniform(-1, 1))))
        top3 = min(games, wins + rng.randint(1, 3))
        return {
            "dumbbot/games_count": games,
            "dumbbot/win_rate": wins / games,
            "dumbbot/top3_rate": top3 / games,
            "dumbbot/avg_sc_count": round(5.0 + 4.0 * skill + rng.gauss(0.0, 0.5), 4),
            "dumbbot/avg_placement": round(3.0 - 1.2 * skill + rng.gauss(0.0, 0.2), 4),
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
