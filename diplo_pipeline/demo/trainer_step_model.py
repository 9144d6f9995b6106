"""One trainer run's per-step metrics: its `Dynamics` with the planted divergence and extraction dip.

Called for steps in order, from one random stream per run, so a step's values depend on every step before it
(the KL EMA carries over, and the stream's position is the data's). The game-side keys of a step (placements,
opponents, the DumbBot benchmark) are trainer_game_metrics.
"""

from __future__ import annotations

import math
import random

from diplo_pipeline.demo.experiment_config import experiment_config, simulated_years_per_step
from diplo_pipeline.demo.planted_episodes import DIVERGENCE, EXTRACTION_DROP
from diplo_pipeline.demo.run_catalogue import RunPlan
from diplo_pipeline.demo.trainer_game_metrics import dumbbot_metrics, opponent_metrics, placement_metrics

KL_EMA_ALPHA = 2 / (10 + 1)  # kl_horizon = 10


class StepModel:
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
            **placement_metrics(self.config, skill, rng),
            **opponent_metrics(self.config, step, reward, dumbbot, rng),
        }
        if dumbbot:
            row.update(dumbbot_metrics(self.config, skill, rng))
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
