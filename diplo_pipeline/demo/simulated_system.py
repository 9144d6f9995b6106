"""The simulated training system: its fixed facts, and how much of what it emits the demo samples.

These are not planted behaviours but the setting they happen in (source-data.md §1.6, §1.7, §3.6): the seven
powers, the league's baseline ratings, the benchmark suite, the trainer's cadence, and the share of the real
event volume that reaches Axiom.
"""

from __future__ import annotations

POWERS = ("AUSTRIA", "ENGLAND", "FRANCE", "GERMANY", "ITALY", "RUSSIA", "TURKEY")

# --- Volume: Axiom carries a sample of what the real system emits, sized for ~100-250k events in all. ---
ROLLOUTS_PER_STEP = 2  # of the 16 real rollouts per step, only these are in Axiom
INFERENCE_CALLS_PER_ROLLOUT = 4  # generate calls sampled per rollout (each: request, response, timing, cache)
ORDER_PHASES = {"short": 4, "long": 5}  # phases with order events per rollout, x 7 powers
GPU_STATS_EVERY_S = 120
TRAINER_STARTUP_S = 90  # container start + model load before step 0
BENCHMARK_EVAL_EVERY = 50  # benchmark_eval_every_n_steps: suite rows at steps 50, 100, 150
BENCHMARK_EVAL_DELAY_STEPS = 3  # the suite's row lands in the run after this many more training steps

# Trainer-scale Elo seeds of the league baselines (source-data.md §1.6).
BASELINE_SEED_ELO = {
    "base_model": 1000.0,
    "chaos_bot": 900.0,
    "defensive_bot": 950.0,
    "territorial_bot": 950.0,
    "coordinated_bot": 1000.0,
    "dumb_bot": 850.0,
}
# Benchmark suite used during training: name -> (pass floor, tier weight) (source-data.md §1.7, §3.6).
BENCHMARK_SUITE = {"random_bot": (0.95, 1), "defensive_bot": (0.70, 2), "frozen_v150": (0.30, 3)}
