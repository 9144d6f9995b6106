"""The shape of each trainer run before any planted episode: its metric dynamics and where its league ends up.

The healthy run's shapes are planted truths too (the warehouse must find nothing wrong with it); every other
run starts from the same dynamics, with an occasional long rollout, and changes only what makes it itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from diplo_pipeline.demo.planted_experiments import SWEEP


@dataclass(frozen=True)
class Dynamics:
    """The shape of a trainer run's per-step metrics before any planted episode."""

    reward_start: float
    reward_end: float
    reward_noise: float
    kl_start: float
    kl_end: float
    kl_max_level: float  # typical kl/max
    grad_norm_level: float  # typical benchmark/grad_norm
    extraction_rate: float  # typical extraction/rate
    rollout_s: tuple[float, float]  # bounds of a rollout's wall time; also of rollout/max_total_s
    rollout_tail: float = 0.0  # share of rollouts that run long (180-320 s) past rollout_s


@dataclass(frozen=True)
class LeagueShape:
    """Where the trainer-scale Elo curves of a league run end up."""

    base_model_final: float
    final_gap: float  # target best checkpoint minus base_model at the last step (within ~10)
    bot_finals: dict[str, float]
    oldest_decline: float  # how far checkpoint v0 falls from its peak by the end; newer ones fall less
    # Rated games an agent plays in each step it plays, and the sigma floors (league.SIGMA_FLOOR when None):
    # a league that rates more games per step is surer of its ratings, so its Elo-gap bands are narrower.
    games_per_step: int = 1
    sigma_floor: dict[str, float] | None = None


HEALTHY_LEAGUE = LeagueShape(
    base_model_final=1012.0,  # initial ~1000: stays under the +20 of `baselines_rising`
    final_gap=60.0,
    bot_finals={
        "chaos_bot": 885.0,
        "defensive_bot": 770.0,
        "territorial_bot": 935.0,
        "coordinated_bot": 840.0,
        "dumb_bot": 805.0,
    },
    oldest_decline=80.0,
)
HEALTHY_DYNAMICS = Dynamics(
    reward_start=2.0,
    reward_end=4.6,
    reward_noise=0.06,
    kl_start=0.015,
    kl_end=0.04,
    kl_max_level=2.5,
    grad_norm_level=3.0,
    extraction_rate=0.99,
    rollout_s=(50.0, 112.0),
)

# Other runs: the same, but an occasional rollout runs long (180-320 s).
GENERIC_DYNAMICS = replace(HEALTHY_DYNAMICS, rollout_s=(50.0, 118.0), rollout_tail=0.03)


def generic_dynamics_with(**changes) -> Dynamics:
    """GENERIC_DYNAMICS with only what makes a run itself changed."""
    return replace(GENERIC_DYNAMICS, **changes)


def league_shape(base: float, gap: float, decline: float, bot_shift: float = 0.0, **rating: object) -> LeagueShape:
    """A league like the healthy run's, its bots' final ratings shifted by `bot_shift`; `rating` sets
    games_per_step and sigma_floor."""
    bots = {name: value + bot_shift for name, value in HEALTHY_LEAGUE.bot_finals.items()}
    return LeagueShape(base, gap, bots, decline, **rating)


SWEEP_DYNAMICS = {
    "A": generic_dynamics_with(reward_start=2.0, reward_end=3.8, kl_start=0.03, kl_end=0.08, kl_max_level=3.6),
    "B": generic_dynamics_with(
        reward_start=2.0, reward_end=2.4, kl_start=0.005, kl_end=0.012, kl_max_level=0.8, grad_norm_level=0.6
    ),
    "C": generic_dynamics_with(reward_start=2.0, reward_end=4.1, kl_start=0.02, kl_end=0.045, kl_max_level=1.8),
}
# The sweep's league rates several games per step, down to the sigmas of a long-rated agent (source-data.md
# §5: "σ from 8.33 down to about 1–3 after many games"), so each final gap's 95 % band is about ±100 Elo:
# C's band clears both zero and A's band (a significant gap, a clear winner); A's and B's include zero.
SWEEP_RATING = {"games_per_step": SWEEP.rated_games_per_step, "sigma_floor": {"baseline": 0.8, "checkpoint": 1.0}}
SWEEP_LEAGUES = {
    "A": league_shape(1005.0, SWEEP.approx_final_gaps["A"], 45.0, **SWEEP_RATING),
    "B": league_shape(1012.0, SWEEP.approx_final_gaps["B"], 22.0, bot_shift=20.0, **SWEEP_RATING),
    "C": league_shape(996.0, SWEEP.approx_final_gaps["C"], 60.0, bot_shift=-20.0, **SWEEP_RATING),
}
