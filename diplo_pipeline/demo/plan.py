"""Every behaviour the demo data plants, declared in one place.

Tests and the warehouse's own checks assert against these values, so nothing planted may live anywhere else:
the generator modules only turn this plan into WandB runs and Axiom events. The simulated timeline is
December 2025 (UTC), about 180 s per training step; runs do not overlap in time.

Run ids are the only seed-dependent part of the plan (8 lowercase alphanumerics, like real WandB ids);
start times, names and planted values are fixed so that docs and tests can quote them.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

DEFAULT_SEED = 7
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


@dataclass(frozen=True)
class Divergence:
    run_key: str = "diverging"
    grad_norm_spike_step: int = 74
    grad_norm_spike: float = 180.0
    kl_high_steps: tuple[int, int] = (70, 78)  # inclusive: kl/mean above 0.2 on every one
    kl_high_range: tuple[float, float] = (0.25, 0.60)
    kl_max_steps: tuple[int, int] = (72, 76)  # inclusive: kl/max above 10 on every one
    kl_max_range: tuple[float, float] = (40.0, 300.0)
    kl_max_peak: float = 400.0  # kl/max at the spike step


@dataclass(frozen=True)
class Crash:
    run_key: str = "crashed"
    last_step: int = 57  # the process is killed after logging this step: no exit record, no final row
    total_steps: int = 100  # configured


@dataclass(frozen=True)
class Resume:
    run_key: str = "resumed"
    crash_after_step: int = 47  # first process killed after logging this step
    resume_from_step: int = 40  # the last saved state (save_state_every_n_steps=10)
    last_step: int = 99
    restart_gap_s: int = 1500  # between the crash and the second process
    relogged_loss_offset: float = 1.0  # second write of steps 40..47: benchmark/loss = first write + this


@dataclass(frozen=True)
class ExtractionDrop:
    run_key: str = "extraction"
    power: str = "ITALY"
    day: date = date(2025, 12, 23)  # the run's only day; no other run has events on it
    orders_expected: int = 3000  # ITALY, Axiom orders_* events of that day
    orders_extracted: int = 2400  # capped at expected: exactly 0.80
    dip_steps: tuple[int, int] = (40, 79)  # inclusive: all of ITALY's lost orders fall in these steps
    other_powers_min_rate: float = 0.98  # every other power that day
    wandb_italy_rate_in_dip: float = 0.5  # drives extraction/rate ~0.92 in the dip (~0.99 elsewhere)

    @property
    def rate(self) -> float:
        return self.orders_extracted / self.orders_expected


@dataclass(frozen=True)
class DegradedHour:
    """The one hour whose health_hourly status is `degraded` (every other hour with events is healthy)."""

    hour: datetime = datetime(2025, 12, 21, 8, tzinfo=UTC)  # in the crashed run, before the kill
    failed_rollouts: int = 4  # each: rollout_error + failed fork span + error_spans_per_failure step spans
    error_spans_per_failure: int = 4  # (isolated failures elsewhere look the same)
    error_rate_range: tuple[float, float] = (0.01, 0.05)  # degraded from 0.01, unhealthy from 0.05
    completion_rate_range: tuple[float, float] = (0.82, 0.95)  # unhealthy below 0.80: kept clear of it


@dataclass(frozen=True)
class CacheReset:
    """prefix_cache_stats counters are cumulative; the inference engine restarts once."""

    reset_at: datetime = datetime(2025, 12, 20, 10, 27, 30, tzinfo=UTC)  # during the diverging run
    exact_hour: datetime = datetime(2025, 12, 20, 10, tzinfo=UTC)
    exact_hit_rate: float = 0.62  # hits/queries from counter differences over exact_hour, across the reset
    # Every counter increment in the hour is 31 hits per 50 queries, so any sane differencing gives 0.62.
    hit_rate_range: tuple[float, float] = (0.55, 0.72)  # per-call hit ratio everywhere else


@dataclass(frozen=True)
class DuplicateExport:
    """A second export overlapping a day file: its lines are byte-identical copies."""

    file_name: str = "diplomacy-2025-12-23T09-12-reexport.ndjson"
    start: datetime = datetime(2025, 12, 23, 9, tzinfo=UTC)
    end: datetime = datetime(2025, 12, 23, 12, tzinfo=UTC)  # exclusive


GZIPPED_DAY = date(2025, 12, 5)  # this day's export is written as .ndjson.gz


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
    approx_final_gaps: dict[str, float] = field(default_factory=lambda: {"A": 50.0, "B": 15.0, "C": 88.0})
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


def _bots(shift: float) -> dict[str, float]:
    return {name: value + shift for name, value in HEALTHY_LEAGUE.bot_finals.items()}


def _league(base: float, gap: float, decline: float, bot_shift: float = 0.0) -> LeagueShape:
    return LeagueShape(base, gap, _bots(bot_shift), decline)


# Other runs: the same, but an occasional rollout runs long (180-320 s).
GENERIC_DYNAMICS = replace(HEALTHY_DYNAMICS, rollout_s=(50.0, 118.0), rollout_tail=0.03)


def _dynamics(**changes) -> Dynamics:
    return replace(GENERIC_DYNAMICS, **changes)


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%d-%H%M%S")


# Planted episodes.
DIVERGENCE = Divergence()
CRASH = Crash()
RESUME = Resume()
EXTRACTION_DROP = ExtractionDrop()
DEGRADED_HOUR = DegradedHour()
CACHE_RESET = CacheReset()
DUPLICATE_EXPORT = DuplicateExport()
SWEEP = SweepPlan()
STANDALONE_EVAL = StandaloneEval()

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
            dynamics=_dynamics(reward_start=9.5, reward_end=11.0, reward_noise=0.4, grad_norm_level=2.0),
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
                dynamics=_dynamics(grad_norm_level=2.5),
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
            dynamics=_dynamics(
                reward_start=2.2,
                reward_end=3.0,
                kl_start=0.02,
                kl_end=0.07,
                kl_max_level=4.0,
                grad_norm_level=4.5,
                extraction_rate=0.985,
            ),
            league=_league(1020.0, 25.0, 45.0, bot_shift=10.0),
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
            dynamics=_dynamics(reward_start=2.0, reward_end=3.0, kl_end=0.05, grad_norm_level=3.5),
            league=_league(1008.0, 35.0, 40.0, bot_shift=15.0),
        ),
        run(
            "resumed",
            grpo_name("resumed"),
            "current",
            RESUME.last_step + 1,
            ("auto-resume",),
            {"experiment_tag": "auto-resume", "total_steps": RESUME.last_step + 1},
            dynamics=_dynamics(reward_start=2.1, reward_end=3.9),
            league=_league(1010.0, 45.0, 50.0, bot_shift=5.0),
        ),
        run(
            "extraction",
            grpo_name("extraction"),
            "current",
            100,
            ("valid-moves-prompt",),
            {"experiment_tag": "valid-moves-prompt", "total_steps": 100, "show_valid_moves": True},
            dynamics=_dynamics(reward_start=2.0, reward_end=3.6),
            league=_league(1006.0, 40.0, 50.0, bot_shift=8.0),
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
                dynamics=_SWEEP_DYNAMICS[letter],
                league=_SWEEP_LEAGUES[letter],
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


_SWEEP_DYNAMICS = {
    "A": _dynamics(reward_start=2.0, reward_end=3.8, kl_start=0.03, kl_end=0.08, kl_max_level=3.6),
    "B": _dynamics(
        reward_start=2.0, reward_end=2.4, kl_start=0.005, kl_end=0.012, kl_max_level=0.8, grad_norm_level=0.6
    ),
    "C": _dynamics(reward_start=2.0, reward_end=4.1, kl_start=0.02, kl_end=0.045, kl_max_level=1.8),
}
_SWEEP_LEAGUES = {
    "A": _league(1005.0, SWEEP.approx_final_gaps["A"], 45.0),
    "B": _league(1012.0, SWEEP.approx_final_gaps["B"], 22.0, bot_shift=20.0),
    "C": _league(996.0, SWEEP.approx_final_gaps["C"], 60.0, bot_shift=-20.0),
}
