"""Trainer-scale league ratings of a run, logged the way the trainer logs them (source-data.md §1.6).

The ratings follow designed curves (plan.LeagueShape) plus a little noise rather than a TrueSkill simulation:
the point is planted, checkable outcomes — the newest checkpoints near their peak, older ones declining as
the league outgrows them, baselines exploited, a known final Elo gap. What is faithful is how they appear:
only agents that played a step get keys that step, checkpoints only after registration, sigma shrinks with
games, and `elo/<agent>` is exactly `(mu - 25) * 40 + 1000` of the logged mu.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from diplo_pipeline.demo.run_shapes import LeagueShape
from diplo_pipeline.demo.simulated_system import BASELINE_SEED_ELO

SIGMA_INIT = 8.333
SIGMA_SHRINK = 0.88  # per rated game
SIGMA_FLOOR = {"baseline": 1.4, "checkpoint": 1.8}
RISE_STEPS = 2.0  # a new checkpoint's rating settles within a few steps (its sigma starts large)
DECLINE_DELAY = 6  # steps at the peak before newer checkpoints start to pull a checkpoint down
PLAY_CHANCE = {"base_model": 0.75, "bot": 0.5, "checkpoint": 0.35, "newest_checkpoint": 0.85}
COLD_START_OPPONENTS = ("base_model", "chaos_bot", "defensive_bot", "territorial_bot", "coordinated_bot")


def mu_to_elo(mu: float) -> float:
    return (mu - 25.0) * 40.0 + 1000.0


def is_registered(step: int, latest_step: int | None) -> bool:
    """The trainer's `should_add_to_league` schedule (no rating is ever passed, so no 'new best' branch)."""
    if latest_step is None:
        return True
    return (
        (step < 50 and step % 5 == 0)
        or (step < 200 and step % 10 == 0)
        or (step >= 200 and step % 20 == 0 and step > latest_step - 100)
        or step % 100 == 0
    )


def registration_steps(steps: int) -> list[int]:
    """Steps whose adapter joins the league (v0, v5 .. v45, v50, v60 ..)."""
    registered: list[int] = []
    for step in range(steps):
        if is_registered(step, registered[-1] if registered else None):
            registered.append(step)
    return registered


def checkpoint_agent(run_name: str, step: int) -> str:
    return f"{run_name}/adapter_v{step}"


def safe_name(agent: str) -> str:
    return agent.replace("/", "_")


@dataclass(frozen=True)
class LeagueCurves:
    """Designed Elo of every agent at every step of one run."""

    shape: LeagueShape
    last_step: int
    checkpoints: dict[str, int]  # agent -> registration step (only those that can still play)

    def elo(self, agent: str, step: int) -> float:
        if agent in BASELINE_SEED_ELO:
            seed = BASELINE_SEED_ELO[agent]
            final = self.shape.base_model_final if agent == "base_model" else self.shape.bot_finals[agent]
            progress = step / self.last_step
            return seed + (final - seed) * (1 - (1 - progress) ** 2)
        registered = self.checkpoints[agent]
        newest = max(self.checkpoints.values())
        fraction = registered / newest if newest else 1.0
        best_peak = self.shape.base_model_final + self.shape.final_gap
        peak = 1000.0 + (best_peak - 1000.0) * fraction**0.8
        decline = self.shape.oldest_decline * (1 - fraction) ** 0.7
        age = step - registered
        rise = 1 - math.exp(-age / RISE_STEPS)
        span = self.last_step - registered - DECLINE_DELAY
        fall = min(1.0, max(0.0, (age - DECLINE_DELAY) / span)) if span > 0 else 0.0
        return 1000.0 + (peak - 1000.0) * rise - decline * fall


def league_rows(
    run_name: str, steps: int, shape: LeagueShape, dumbbot_steps: set[int], rng: random.Random
) -> list[dict]:
    """Per step 0..steps-1: the `trueskill/*`, `elo/*` and `league/*` keys of that step's trainer row."""
    last_step = steps - 1
    registered = registration_steps(last_step)  # a checkpoint saved at the last step never plays
    curves = LeagueCurves(shape, last_step, {checkpoint_agent(run_name, s): s for s in registered})
    games: dict[str, int] = {}
    floors = shape.sigma_floor or SIGMA_FLOOR
    best_display: float | None = None
    rows = []
    for step in range(steps):
        playing = _players(step, last_step, registered, run_name, dumbbot_steps, rng)
        row: dict = {}
        for agent in playing:
            games[agent] = games.get(agent, 0) + 1
            kind = "baseline" if agent in BASELINE_SEED_ELO else "checkpoint"
            elo = curves.elo(agent, step) + max(-2.0, min(2.0, rng.gauss(0.0, 0.8)))
            mu = round(25.0 + (elo - 1000.0) / 40.0, 5)
            sigma = round(max(floors[kind], SIGMA_INIT * SIGMA_SHRINK ** (games[agent] * shape.games_per_step)), 5)
            name = safe_name(agent)
            row[f"trueskill/{name}_mu"] = mu
            row[f"trueskill/{name}_sigma"] = sigma
            row[f"trueskill/{name}_rating"] = mu - 3 * sigma
            row[f"elo/{name}"] = mu_to_elo(mu)
            display = mu - 3 * sigma
            best_display = display if best_display is None else max(best_display, display)
        row["trueskill/rollout_updates_count"] = len(playing)
        in_league = [s for s in registered if s < step]
        row["league/num_checkpoints"] = len(in_league)
        row["league/latest_step"] = in_league[-1] if in_league else 0
        # The registry keeps `best_elo` on the display scale once TrueSkill sets a new best (a known quirk).
        row["league/best_elo"] = 1000.0 if best_display is None else mu_to_elo(best_display)
        rows.append(row)
    return rows


def _players(
    step: int,
    last_step: int,
    registered: list[int],
    run_name: str,
    dumbbot_steps: set[int],
    rng: random.Random,
) -> list[str]:
    in_league = [s for s in registered if s < step]
    if not in_league:
        return list(COLD_START_OPPONENTS)
    players = []
    if step == last_step or rng.random() < PLAY_CHANCE["base_model"]:
        players.append("base_model")
    for bot in ("chaos_bot", "defensive_bot", "territorial_bot", "coordinated_bot"):
        if rng.random() < PLAY_CHANCE["bot"]:
            players.append(bot)
    if step in dumbbot_steps:
        players.append("dumb_bot")
    for registered_step in in_league:
        newest = registered_step == in_league[-1]
        chance = PLAY_CHANCE["newest_checkpoint" if newest else "checkpoint"]
        if (newest and step == last_step) or rng.random() < chance:
            players.append(checkpoint_agent(run_name, registered_step))
    return players


def final_elo_gap(run_name: str, rows: list[dict]) -> dict:
    """Best checkpoint minus base_model at the last step, each agent's latest rating carried forward."""
    latest: dict[str, float] = {}
    for row in rows:
        for key, value in row.items():
            if key.startswith("elo/"):
                latest[key.removeprefix("elo/")] = value
    prefix = safe_name(f"{run_name}/adapter_v")
    checkpoints = {agent: elo for agent, elo in latest.items() if agent.startswith(prefix)}
    best = max(checkpoints, key=checkpoints.__getitem__)
    return {
        "best_checkpoint": f"{run_name}/adapter_v{best.removeprefix(prefix)}",
        "best_checkpoint_elo": checkpoints[best],
        "base_model_elo": latest["base_model"],
        "elo_gap": checkpoints[best] - latest["base_model"],
    }
