"""When every simulated trainer process, training step and sampled rollout happens.

Both sources are built from this one timeline: WandB rows take their `_timestamp`, `rollout/max_total_s` and
`rollout/failed_count` from it, Axiom events their `_time`, so the two agree the way they do for a real run.
Times are integer microseconds since the epoch (Axiom's client stamps events with microsecond precision).

A sampled rollout never spans an hour boundary: `health_hourly` counts starts and completions per hour, and a
rollout finishing in the next hour would look like a lost one. Real rollouts come from a prefetch buffer, so
starting one a little before its step is faithful enough.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from diplo_pipeline.demo.experiment_config import experiment_config
from diplo_pipeline.demo.planted_episodes import CRASH, DEGRADED_HOUR, RESUME
from diplo_pipeline.demo.run_catalogue import DemoPlan, RunPlan
from diplo_pipeline.demo.simulated_system import (
    BENCHMARK_EVAL_DELAY_STEPS,
    BENCHMARK_EVAL_EVERY,
    ROLLOUTS_PER_STEP,
    TRAINER_STARTUP_S,
)

US = 1_000_000
HOUR_US = 3600 * US
_ID_ALPHABET = string.ascii_letters + string.digits


def to_us(moment: datetime) -> int:
    return int(moment.timestamp()) * US + moment.microsecond


def to_datetime(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // US, UTC).replace(microsecond=micros % US)


@dataclass(frozen=True)
class Rollout:
    rollout_id: str  # the diplomacy engine's game id
    step: int
    start_us: int
    duration_us: int  # until rollout_complete, or until rollout_error when failed
    horizon_type: str  # short | long
    horizon_years: int
    warmup_phases: int
    samples_per_group: int
    failed: bool = False

    @property
    def end_us(self) -> int:
        return self.start_us + self.duration_us


@dataclass(frozen=True)
class Step:
    step: int
    start_us: int
    end_us: int  # when the trainer logs the step's row
    rollout_time_s: float
    training_time_s: float
    max_total_s: float  # over the step's 16 real rollouts, so at least every sampled one
    volume_reload_s: float
    rollouts: tuple[Rollout, ...]

    @property
    def failed_count(self) -> int:
        return sum(rollout.failed for rollout in self.rollouts)


@dataclass(frozen=True)
class Segment:
    """One trainer process of a run."""

    steps: tuple[Step, ...]
    start_us: int
    killed: bool  # ended without finish(): its trainer-side Axiom events are never flushed

    @property
    def end_us(self) -> int:
        return self.steps[-1].end_us


@dataclass(frozen=True)
class RunTimeline:
    run: RunPlan
    segments: tuple[Segment, ...]

    @property
    def start_us(self) -> int:
        return self.segments[0].start_us

    @property
    def end_us(self) -> int:
        return self.segments[-1].end_us

    def rollouts(self) -> list[Rollout]:
        return [rollout for segment in self.segments for step in segment.steps for rollout in step.rollouts]


def build_timelines(plan: DemoPlan) -> dict[str, RunTimeline]:
    """Timelines of every training run (the standalone evaluation has none: it plays no rollouts)."""
    return {
        key: _run_timeline(run, random.Random(f"{plan.seed}:timeline:{key}"))
        for key, run in plan.runs.items()
        if run.era != "evaluation"
    }


def _run_timeline(run: RunPlan, rng: random.Random) -> RunTimeline:
    start = to_us(run.start)
    if run.key == RESUME.run_key:
        first = _segment(run, range(RESUME.crash_after_step + 1), start, True, rng)
        restart = first.end_us + RESUME.restart_gap_s * US
        second = _segment(run, range(RESUME.resume_from_step, RESUME.last_step + 1), restart, False, rng)
        segments = (first, second)
    else:
        segments = (_segment(run, range(run.steps), start, run.key == CRASH.run_key, rng),)
    segments = tuple(_with_failures(run, segment, rng) for segment in segments)
    return RunTimeline(run, segments)


def _segment(run: RunPlan, steps: range, start_us: int, killed: bool, rng: random.Random) -> Segment:
    config = experiment_config(run.name, run.config)
    dynamics = run.dynamics
    low, high = dynamics.rollout_s
    clock = start_us + TRAINER_STARTUP_S * US
    built = []
    for step in steps:
        rollouts = []
        for _ in range(ROLLOUTS_PER_STEP):
            is_long = rng.random() < config["rollout_long_horizon_chance"]
            if rng.random() < dynamics.rollout_tail:
                seconds = rng.uniform(180.0, 320.0)
            elif is_long:
                seconds = rng.triangular(low + 0.3 * (high - low), high, high - 0.2 * (high - low))
            else:
                seconds = rng.triangular(low, high, low + 0.35 * (high - low))
            duration = int(seconds * 1000) * 1000  # rollout_complete carries whole milliseconds
            begin = _clear_of_hour_boundary(clock + rng.randint(0, 3 * US), duration, start_us, rng)
            rollouts.append(
                Rollout(
                    rollout_id="".join(rng.choices(_ID_ALPHABET, k=12)),
                    step=step,
                    start_us=begin,
                    duration_us=duration,
                    horizon_type="long" if is_long else "short",
                    horizon_years=config[
                        "rollout_long_horizon_years" if is_long else "rollout_horizon_years"
                    ],
                    warmup_phases=0
                    if rng.random() < config["rollout_no_warmup_chance"]
                    else rng.randint(1, 8),
                    samples_per_group=config["samples_per_group"],
                )
            )
        max_total = max(max(r.duration_us for r in rollouts) / US, rng.uniform(0.75 * high, 0.97 * high))
        rollout_time = max_total + rng.uniform(2.0, 8.0)
        training_time = rng.uniform(55.0, 80.0)
        end = clock + int((rollout_time + training_time) * US)
        built.append(
            Step(
                step=step,
                start_us=clock,
                end_us=end,
                rollout_time_s=round(rollout_time, 3),
                training_time_s=round(training_time, 3),
                max_total_s=round(max_total, 3),
                volume_reload_s=round(rng.uniform(2.0, 5.0), 3),
                rollouts=tuple(rollouts),
            )
        )
        clock = end
    return Segment(tuple(built), start_us, killed)


def _clear_of_hour_boundary(begin: int, duration: int, earliest: int, rng: random.Random) -> int:
    boundary = (begin // HOUR_US + 1) * HOUR_US
    if begin + duration <= boundary:
        return begin
    earlier = boundary - duration - rng.randint(1, 5) * US
    return earlier if earlier >= earliest else boundary + rng.randint(1, 5) * US


def _with_failures(run: RunPlan, segment: Segment, rng: random.Random) -> Segment:
    """Mark the planted rollout failures: isolated ones, and the burst of the degraded hour."""
    doomed: set[str] = set()
    for step in segment.steps:
        if step.step in run.isolated_failures:
            doomed.add(step.rollouts[0].rollout_id)
    if run.key == CRASH.run_key:
        hour = to_us(DEGRADED_HOUR.hour)
        in_hour = [
            rollout.rollout_id
            for step in segment.steps
            for rollout in step.rollouts
            if hour <= rollout.start_us < hour + HOUR_US
        ]
        doomed.update(rng.sample(in_hour, DEGRADED_HOUR.failed_rollouts))
    if not doomed:
        return segment

    def fail(rollout: Rollout) -> Rollout:
        if rollout.rollout_id not in doomed:
            return rollout
        # A failing rollout errors part-way through, after two retries of its inference call.
        return replace(rollout, failed=True, duration_us=int(rollout.duration_us * rng.uniform(0.4, 0.7)))

    steps = tuple(replace(step, rollouts=tuple(fail(r) for r in step.rollouts)) for step in segment.steps)
    return replace(segment, steps=steps)


@dataclass(frozen=True)
class BenchmarkEvaluation:
    """A benchmark-suite job spawned at `step`; it logs into the run after a few more training steps."""

    step: int
    start_us: int
    end_us: int  # `benchmark_evaluation_complete`; the WandB row follows a few seconds later
    logged_after_step: int  # the trainer row that precedes the evaluation's row in the run


def benchmark_evaluations(timeline: RunTimeline) -> list[BenchmarkEvaluation]:
    evaluations = []
    for segment in timeline.segments:
        by_step = {step.step: step for step in segment.steps}
        for step in range(BENCHMARK_EVAL_EVERY, timeline.run.steps, BENCHMARK_EVAL_EVERY):
            after = step + BENCHMARK_EVAL_DELAY_STEPS
            if step in by_step and after in by_step:
                start = by_step[step].end_us + 20 * US
                evaluations.append(BenchmarkEvaluation(step, start, by_step[after].end_us + 25 * US, after))
    return evaluations
