"""The demo's runs: which runs exist, when each starts, its name, config, shape and what it plants.

The simulated timeline is December 2025 (UTC), about 180 s per training step; runs do not overlap in time.
Run ids are the only seed-dependent part of the plan (8 lowercase alphanumerics, like real WandB ids);
start times, names and planted values are fixed so that docs and tests can quote them.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import UTC, datetime

from diplo_pipeline.demo.planted_episodes import CRASH, RESUME
from diplo_pipeline.demo.planted_experiments import (
    POWER_LAW_GROUPS_PER_STEP,
    POWER_LAW_RUNS,
    POWER_LAW_STEPS,
    STANDALONE_EVAL,
    SWEEP,
)
from diplo_pipeline.demo.run_shapes import (
    HEALTHY_DYNAMICS,
    HEALTHY_LEAGUE,
    SWEEP_DYNAMICS,
    SWEEP_LEAGUES,
    Dynamics,
    LeagueShape,
    generic_dynamics_with,
    league_shape,
)

DEFAULT_SEED = 7


@dataclass(frozen=True)
class RunPlan:
    key: str
    run_id: str
    name: str
    era: str  # current (train_grpo), legacy (root app.py, <= 12-05), power_law (legacy sweep), evaluation
    start: datetime
    steps: int  # training steps reached, 0..steps-1 (over all of the run's processes)
    state: str  # what the warehouse should call it: finished | crashed
    tags: tuple[str, ...]
    config: dict  # ExperimentConfig overrides (or the evaluation config)
    dynamics: Dynamics | None = None
    league: LeagueShape | None = None
    isolated_failures: tuple[int, ...] = ()  # steps where one sampled rollout fails (rollout_error)


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%d-%H%M%S")


# Run start times. Sweep runs are sequential: A after the sweep's warmup, each next 3h20m later
# (a 60-step run takes about 3 h, so they never overlap).
STARTS = {
    "legacy": _at(2025, 12, 3, 14, 20, 11),
    "power_law_baseline": _at(2025, 12, 5, 7, 2, 41),
    "power_law_deep": _at(2025, 12, 5, 12, 31, 7),
    "power_law_broad": _at(2025, 12, 5, 18, 2, 55),
    "diverging": _at(2025, 12, 20, 7, 45, 12),
    "crashed": _at(2025, 12, 21, 5, 52, 10),
    "resumed": _at(2025, 12, 22, 9, 30, 0),
    "extraction": _at(2025, 12, 23, 7, 10, 45),
    "sweep_A": _at(2025, 12, 26, 12, 45, 48),
    "sweep_B": _at(2025, 12, 26, 16, 5, 48),
    "sweep_C": _at(2025, 12, 26, 19, 25, 48),
    "healthy": _at(2025, 12, 27, 9, 14, 8),
    "evaluation": _at(2025, 12, 27, 18, 2, 37),
}
LEGACY_STEPS = 40
HEALTHY_STEPS = 160
RUN_KEYS = (
    "legacy",
    *POWER_LAW_RUNS,
    "diverging",
    "crashed",
    "resumed",
    "extraction",
    *(f"sweep_{letter}" for letter in SWEEP.tag_suffixes),
    "healthy",
    "evaluation",
)


@dataclass(frozen=True)
class DemoPlan:
    seed: int
    runs: dict[str, RunPlan]

    def run(self, key: str) -> RunPlan:
        return self.runs[key]


def run_ids(seed: int) -> dict[str, str]:
    """One distinct WandB-style id per run key, in RUN_KEYS order, from random.Random(seed)."""
    rng = random.Random(seed)
    alphabet = string.ascii_lowercase + string.digits
    ids: dict[str, str] = {}
    for key in RUN_KEYS:
        candidate = "".join(rng.choices(alphabet, k=8))
        while candidate in ids.values():
            candidate = "".join(rng.choices(alphabet, k=8))
        ids[key] = candidate
    return ids


def build_plan(seed: int = DEFAULT_SEED) -> DemoPlan:
    ids = run_ids(seed)

    def run(
        key: str, name: str, era: str, steps: int, tags: tuple, config: dict, state: str = "finished", **shape
    ) -> RunPlan:
        return RunPlan(key, ids[key], name, era, STARTS[key], steps, state, tags, config, **shape)

    def grpo_name(key: str) -> str:
        return f"grpo-{_stamp(STARTS[key])}"

    healthy_name = grpo_name("healthy")
    runs = [
        run(
            "legacy",
            f"benchmark-{_stamp(STARTS['legacy'])}",
            "legacy",
            LEGACY_STEPS,
            ("benchmark", "legacy-baseline"),
            {
                "experiment_tag": "legacy-baseline",
                "total_steps": LEGACY_STEPS,
                "num_groups_per_step": 8,
                "rollout_horizon_years": 2,
                "rollout_long_horizon_chance": 0.0,
                "league_training": False,
            },
            dynamics=generic_dynamics_with(
                reward_start=9.5, reward_end=11.0, reward_noise=0.4, grad_norm_level=2.0
            ),
        ),
        *(
            run(
                key,
                f"benchmark-{_stamp(STARTS[key])}",
                "power_law",
                POWER_LAW_STEPS,
                ("benchmark", law.tag),
                {
                    "experiment_tag": law.tag,
                    "total_steps": POWER_LAW_STEPS,
                    "num_groups_per_step": POWER_LAW_GROUPS_PER_STEP,
                    "samples_per_group": law.samples_per_group,
                    "rollout_horizon_years": law.rollout_horizon_years,
                    "rollout_long_horizon_chance": 0.0,
                    "league_training": False,
                },
                dynamics=generic_dynamics_with(grad_norm_level=2.5),
                isolated_failures=(12,) if key == "power_law_deep" else (),
            )
            for key, law in POWER_LAW_RUNS.items()
        ),
        run(
            "diverging",
            grpo_name("diverging"),
            "current",
            100,
            ("high-lr",),
            {"experiment_tag": "high-lr", "learning_rate": 5e-5, "total_steps": 100},
            dynamics=generic_dynamics_with(
                reward_start=2.2,
                reward_end=3.0,
                kl_start=0.02,
                kl_end=0.07,
                kl_max_level=4.0,
                grad_norm_level=4.5,
                extraction_rate=0.985,
            ),
            league=league_shape(1020.0, 25.0, 45.0, bot_shift=10.0),
            isolated_failures=(33,),
        ),
        run(
            "crashed",
            grpo_name("crashed"),
            "current",
            CRASH.last_step + 1,
            ("mlp-lora",),
            {"experiment_tag": "mlp-lora", "total_steps": CRASH.total_steps, "lora_rank": 16},
            state="crashed",
            dynamics=generic_dynamics_with(reward_start=2.0, reward_end=3.0, kl_end=0.05, grad_norm_level=3.5),
            league=league_shape(1008.0, 35.0, 40.0, bot_shift=15.0),
        ),
        run(
            "resumed",
            grpo_name("resumed"),
            "current",
            RESUME.last_step + 1,
            ("auto-resume",),
            {"experiment_tag": "auto-resume", "total_steps": RESUME.last_step + 1},
            dynamics=generic_dynamics_with(reward_start=2.1, reward_end=3.9),
            league=league_shape(1010.0, 45.0, 50.0, bot_shift=5.0),
        ),
        run(
            "extraction",
            grpo_name("extraction"),
            "current",
            100,
            ("valid-moves-prompt",),
            {"experiment_tag": "valid-moves-prompt", "total_steps": 100, "show_valid_moves": True},
            dynamics=generic_dynamics_with(reward_start=2.0, reward_end=3.6),
            league=league_shape(1006.0, 40.0, 50.0, bot_shift=8.0),
            isolated_failures=(61,),
        ),
        *(
            run(
                f"sweep_{letter}",
                SWEEP.run_name(letter),
                "current",
                SWEEP.steps,
                (SWEEP.tag(letter),),
                {
                    "experiment_tag": SWEEP.tag(letter),
                    "run_name": SWEEP.run_name(letter),
                    "total_steps": SWEEP.steps,
                    "lora_rank": 16,
                    **SWEEP.varying[letter],
                },
                dynamics=SWEEP_DYNAMICS[letter],
                league=SWEEP_LEAGUES[letter],
                isolated_failures=(22,) if letter == "A" else (),
            )
            for letter in SWEEP.tag_suffixes
        ),
        run(
            "healthy",
            healthy_name,
            "current",
            HEALTHY_STEPS,
            (),
            {"total_steps": HEALTHY_STEPS, "kl_beta": 0.02},
            dynamics=HEALTHY_DYNAMICS,
            league=HEALTHY_LEAGUE,
        ),
        run(
            "evaluation",
            f"eval-{healthy_name}-adapter_v{STANDALONE_EVAL.checkpoint_step}-{_stamp(STARTS['evaluation'])}",
            "evaluation",
            0,
            ("evaluation",),
            {
                "checkpoint_path": f"{healthy_name}/adapter_v{STANDALONE_EVAL.checkpoint_step}",
                "opponents": list(STANDALONE_EVAL.results),
                "games_per_opponent": STANDALONE_EVAL.games_per_opponent,
                "max_years": 10,
                "eval_powers": ["FRANCE"],
                "model_id": "Qwen/Qwen2.5-7B-Instruct",
            },
        ),
    ]
    return DemoPlan(seed=seed, runs={plan.key: plan for plan in runs})
