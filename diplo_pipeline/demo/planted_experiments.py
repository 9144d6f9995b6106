"""The planted experiments: a sweep with a known winner, power-law runs with known fits, a standalone evaluation.

Unlike the episodes (planted_episodes.py), these are runs that go right, with an answer the warehouse must
recover: the sweep's ranking by final Elo gap, each power-law run's coefficient and exponent, and the
evaluation's results per opponent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class SweepPlan:
    name: str = "stability-ablation"
    timestamp: str = "20251226-124256"  # shared by every run name of the launch
    launched: datetime = datetime(2025, 12, 26, 12, 42, 56, tzinfo=UTC)
    warmup_s: float = 151.4  # sweep_warmup_completed comes this long after the launch
    steps: int = 60
    tag_suffixes: dict[str, str] = field(
        default_factory=lambda: {"A": "baseline", "B": "lowlr", "C": "klbeta"}
    )
    varying: dict[str, dict] = field(
        default_factory=lambda: {
            "A": {"learning_rate": 1e-5, "kl_beta": 0.0},
            "B": {"learning_rate": 1e-6, "kl_beta": 0.0},
            "C": {"learning_rate": 1e-5, "kl_beta": 0.02},
        }
    )
    expected_winner: str = "C"  # by final Elo gap (best checkpoint - base_model)
    expected_runner_up: str = "A"
    expected_ranking: tuple[str, ...] = ("C", "A", "B")
    # C wins clearly: its final gap's 95 % band (about ±100, see run_shapes.SWEEP_RATING) lies above both 0 and
    # A's band, so C's learning signal is significant and the verdict is clear_winner; A's and B's bands
    # include 0 (positive or moderate, not significant). +260 is near the largest gap seen (+250).
    approx_final_gaps: dict[str, float] = field(default_factory=lambda: {"A": 50.0, "B": 15.0, "C": 260.0})
    rated_games_per_step: int = 4
    hypothesis: str = (
        "A small KL penalty (beta 0.02) keeps the policy close enough to the reference to stop the\n"
        "late-run KL spikes, without slowing learning the way a 10x lower learning rate does."
    )

    def run_name(self, letter: str) -> str:
        return f"{self.name}-{letter}-{self.timestamp}"

    def tag(self, letter: str) -> str:
        return f"{self.name}-{letter}-{self.tag_suffixes[letter]}"


@dataclass(frozen=True)
class PowerLawRun:
    tag: str
    rollout_horizon_years: int
    samples_per_group: int
    simulated_years_per_step: int  # 8 groups x samples x horizon
    coefficient: float  # reward = coefficient * cumulative_years ** exponent, times small noise
    exponent: float


POWER_LAW_GROUPS_PER_STEP = 8
POWER_LAW_STEPS = 100
POWER_LAW_NOISE = 0.03  # sd of the multiplicative log-normal noise on reward
POWER_LAW_RUNS = {
    "power_law_baseline": PowerLawRun("power-laws-baseline", 2, 8, 128, 0.50, 0.30),
    "power_law_deep": PowerLawRun("power-laws-deep", 4, 8, 256, 0.45, 0.33),
    "power_law_broad": PowerLawRun("power-laws-broad", 2, 16, 256, 0.55, 0.28),
}


@dataclass(frozen=True)
class StandaloneEval:
    checkpoint_step: int = 150
    games_per_opponent: int = 10
    duration_s: float = 940.0
    # opponent -> (win_rate, survival_rate, avg_centers) over the 10 games
    results: dict[str, tuple[float, float, float]] = field(
        default_factory=lambda: {"random": (0.6, 1.0, 14.2), "chaos": (0.3, 0.9, 9.8)}
    )


SWEEP = SweepPlan()
STANDALONE_EVAL = StandaloneEval()
