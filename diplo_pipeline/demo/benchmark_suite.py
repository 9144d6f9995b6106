"""Results of the quick benchmark suite run during training (source-data.md §1.7).

One function decides them so that the WandB evaluation row and the Axiom `benchmark_evaluation_complete`
event of the same evaluation agree.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from diplo_pipeline.demo.run_catalogue import RunPlan
from diplo_pipeline.demo.simulated_system import BENCHMARK_SUITE

GAMES_PER_BENCHMARK = 3


@dataclass(frozen=True)
class SuiteResult:
    win_rates: dict[str, float]  # benchmark -> wins / 3
    avg_scores: dict[str, float]
    passed: dict[str, int]

    @property
    def overall_score(self) -> float:
        """Tier-weighted mean win rate x 100."""
        weights = {name: weight for name, (_, weight) in BENCHMARK_SUITE.items()}
        total = sum(weights[name] * rate for name, rate in self.win_rates.items())
        return round(100.0 * total / sum(weights.values()), 4)

    @property
    def benchmarks_passed(self) -> int:
        return sum(self.passed.values())

    @property
    def games_played(self) -> int:
        return GAMES_PER_BENCHMARK * len(self.win_rates)

    def wandb_row(self, evaluation_step: int) -> dict:
        row: dict = {"benchmark/evaluation_step": evaluation_step}
        for name in self.win_rates:
            row[f"benchmark/vs_{name}_winrate"] = self.win_rates[name]
            row[f"benchmark/vs_{name}_avg_score"] = self.avg_scores[name]
            row[f"benchmark/vs_{name}_passed"] = self.passed[name]
        row["benchmark/overall_score"] = self.overall_score
        row["benchmark/games_played"] = self.games_played
        row["benchmark/benchmarks_passed"] = self.benchmarks_passed
        row["benchmark/benchmarks_total"] = len(self.win_rates)
        return row


def suite_result(run: RunPlan, evaluation_step: int, seed: int) -> SuiteResult:
    """Stronger as the run learns: wins grow with how far its reward has climbed by this step."""
    rng = random.Random(f"{seed}:suite:{run.key}:{evaluation_step}")
    dynamics = run.dynamics
    progress = evaluation_step / max(1, run.steps - 1)
    skill = max(0.0, min(1.0, (dynamics.reward_end - dynamics.reward_start) * progress / 2.6))
    base_wins = {"random_bot": 2 + skill, "defensive_bot": 1 + 1.5 * skill, "frozen_v150": 1.3 * skill}
    win_rates, avg_scores, passed = {}, {}, {}
    for name, (floor, _) in BENCHMARK_SUITE.items():
        wins = max(0, min(GAMES_PER_BENCHMARK, round(base_wins[name] + rng.uniform(-0.4, 0.4))))
        rate = round(wins / GAMES_PER_BENCHMARK, 4)
        win_rates[name] = rate
        avg_scores[name] = round(8.0 + 22.0 * rate + rng.uniform(-2.0, 2.0), 3)
        passed[name] = int(rate >= floor)
    return SuiteResult(win_rates, avg_scores, passed)
