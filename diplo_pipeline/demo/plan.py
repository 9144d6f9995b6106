"""Every behaviour the demo data plants, declared in one place: the names tests and the manifest read.

Tests and the warehouse's own checks assert against these values, so nothing planted may live anywhere else:
the generator modules only turn this plan into WandB runs and Axiom events. The plan is kept in modules by
what they hold, and this module gathers their names so callers need only `from diplo_pipeline.demo import
plan`:

    run_catalogue.py        the runs: keys, ids, start times, names, configs (build_plan, DemoPlan, RunPlan)
    planted_episodes.py     what goes wrong: divergence, crash, resume, extraction drop, degraded hour,
                            cache reset, duplicate export, the gzipped day
    planted_experiments.py  what goes right with a known answer: the sweep, the power-law runs, the evaluation
    run_shapes.py           each trainer run's metric dynamics and league shape (the healthy run's among them)
    simulated_system.py     the setting: powers, league baselines, benchmark suite, cadence, sampled volume
"""

from __future__ import annotations

from diplo_pipeline.demo.planted_episodes import (
    CACHE_RESET,
    CRASH,
    DEGRADED_HOUR,
    DIVERGENCE,
    DUPLICATE_EXPORT,
    EXTRACTION_DROP,
    GZIPPED_DAY,
    RESUME,
    CacheReset,
    Crash,
    DegradedHour,
    Divergence,
    DuplicateExport,
    ExtractionDrop,
    Resume,
)
from diplo_pipeline.demo.planted_experiments import (
    POWER_LAW_GROUPS_PER_STEP,
    POWER_LAW_NOISE,
    POWER_LAW_RUNS,
    POWER_LAW_STEPS,
    STANDALONE_EVAL,
    SWEEP,
    PowerLawRun,
    StandaloneEval,
    SweepPlan,
)
from diplo_pipeline.demo.run_catalogue import (
    DEFAULT_SEED,
    HEALTHY_STEPS,
    LEGACY_STEPS,
    RUN_KEYS,
    STARTS,
    DemoPlan,
    RunPlan,
    build_plan,
    run_ids,
)
from diplo_pipeline.demo.run_shapes import (
    GENERIC_DYNAMICS,
    HEALTHY_DYNAMICS,
    HEALTHY_LEAGUE,
    Dynamics,
    LeagueShape,
)
from diplo_pipeline.demo.simulated_system import (
    BASELINE_SEED_ELO,
    BENCHMARK_EVAL_DELAY_STEPS,
    BENCHMARK_EVAL_EVERY,
    BENCHMARK_SUITE,
    GPU_STATS_EVERY_S,
    INFERENCE_CALLS_PER_ROLLOUT,
    ORDER_PHASES,
    POWERS,
    ROLLOUTS_PER_STEP,
    TRAINER_STARTUP_S,
)

__all__ = [
    "BASELINE_SEED_ELO",
    "BENCHMARK_EVAL_DELAY_STEPS",
    "BENCHMARK_EVAL_EVERY",
    "BENCHMARK_SUITE",
    "CACHE_RESET",
    "CRASH",
    "DEFAULT_SEED",
    "DEGRADED_HOUR",
    "DIVERGENCE",
    "DUPLICATE_EXPORT",
    "EXTRACTION_DROP",
    "GENERIC_DYNAMICS",
    "GPU_STATS_EVERY_S",
    "GZIPPED_DAY",
    "HEALTHY_DYNAMICS",
    "HEALTHY_LEAGUE",
    "HEALTHY_STEPS",
    "INFERENCE_CALLS_PER_ROLLOUT",
    "LEGACY_STEPS",
    "ORDER_PHASES",
    "POWERS",
    "POWER_LAW_GROUPS_PER_STEP",
    "POWER_LAW_NOISE",
    "POWER_LAW_RUNS",
    "POWER_LAW_STEPS",
    "RESUME",
    "ROLLOUTS_PER_STEP",
    "RUN_KEYS",
    "STANDALONE_EVAL",
    "STARTS",
    "SWEEP",
    "TRAINER_STARTUP_S",
    "CacheReset",
    "Crash",
    "DegradedHour",
    "DemoPlan",
    "Divergence",
    "DuplicateExport",
    "Dynamics",
    "ExtractionDrop",
    "LeagueShape",
    "PowerLawRun",
    "Resume",
    "RunPlan",
    "StandaloneEval",
    "SweepPlan",
    "build_plan",
    "run_ids",
]
