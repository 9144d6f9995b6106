"""The game-side keys of a training step: placements, PFSP opponent shares and rewards, the DumbBot benchmark.

Drawn from the run's random stream in the order trainer_step_model calls them.
"""

from __future__ import annotations

import math
import random

from diplo_pipeline.demo.simulated_system import POWERS


def placement_metrics(config: dict, skill: float, rng: random.Random) -> dict:
    """Shares of the step's games by final rank; a stronger policy places higher more often."""
    games = config["num_groups_per_step"] * config["samples_per_group"]
    sharpness = 0.05 + 0.25 * skill
    ranks = rng.choices(range(1, 8), weights=[math.exp(-sharpness * k) for k in range(7)], k=games)
    counts = [ranks.count(rank) for rank in range(1, 8)]
    names = ("1st", "2nd", "3rd", "4th", "5th", "6th", "7th")
    row = {f"placement/{name}_rate": count / games for name, count in zip(names, counts, strict=True)}
    row["placement/top3_rate"] = sum(counts[:3]) / games
    row["placement/bottom3_rate"] = sum(counts[4:]) / games
    row["placement/mean_rank"] = sum(ranks) / games
    return row


def opponent_metrics(config: dict, step: int, reward: float, dumbbot: bool, rng: random.Random) -> dict:
    """PFSP shares of opponent slots, hero powers, and rewards by dominant opponent category."""
    groups = config["num_groups_per_step"]
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


def dumbbot_metrics(config: dict, skill: float, rng: random.Random) -> dict:
    """The 1-vs-6 DumbBot benchmark rollout of the steps that play one."""
    games = config["samples_per_group"]
    wins = min(games, max(0, round(games * (0.3 + 0.3 * skill) + rng.uniform(-1, 1))))
    top3 = min(games, wins + rng.randint(1, 3))
    return {
        "dumbbot/games_count": games,
        "dumbbot/win_rate": wins / games,
        "dumbbot/top3_rate": top3 / games,
        "dumbbot/avg_sc_count": round(5.0 + 4.0 * skill + rng.gauss(0.0, 0.5), 4),
        "dumbbot/avg_placement": round(3.0 - 1.2 * skill + rng.gauss(0.0, 0.2), 4),
    }
