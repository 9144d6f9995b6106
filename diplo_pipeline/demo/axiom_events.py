"""Every Axiom event of the demo, with the real event names and fields of source-data.md §2.2.

Flush timing decides `_sysTime` (ingest time), as in the training system: rollout workers flush when a rollout
ends, the inference engine after every generate call, evaluation jobs and the sweep orchestrator when they
finish, and the trainer only once at the end of its process, so a killed trainer's `gpu_stats` and
`Benchmark_Rollout_<step>` spans never arrive.

This module samples the rollouts and evaluation calls, lets the planted behaviours that span rollouts adjust
them, and flushes each emitter's batch: rollout workers (axiom_rollouts, axiom_orders), the inference engine
(axiom_inference), trainers (axiom_trainer_events), and the jobs that flush once (axiom_job_events).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from diplo_pipeline.demo.axiom_cache import assign_cache_counters
from diplo_pipeline.demo.axiom_extraction import plant_extraction_drop
from diplo_pipeline.demo.axiom_inference import InferenceCall, inference_call, inference_events
from diplo_pipeline.demo.axiom_job_events import benchmark_complete_event, standalone_eval_events, sweep_events
from diplo_pipeline.demo.axiom_orders import order_event
from diplo_pipeline.demo.axiom_rollouts import SampledRollout, metrics_event, sample_rollout
from diplo_pipeline.demo.axiom_trainer_events import trainer_events
from diplo_pipeline.demo.planted_episodes import EXTRACTION_DROP
from diplo_pipeline.demo.planted_experiments import STANDALONE_EVAL
from diplo_pipeline.demo.run_catalogue import DemoPlan, RunPlan
from diplo_pipeline.demo.timeline import US, RunTimeline, benchmark_evaluations, to_us
from diplo_pipeline.demo.trainer_rows import RunRows

BENCHMARK_EVAL_CALLS = 3
STANDALONE_EVAL_CALLS = 8


@dataclass(frozen=True)
class AxiomEvent:
    time_us: int  # `_time`: stamped by the client when logged
    sys_ns: int  # `_sysTime`: when Axiom ingested the batch
    fields: dict  # everything else except `service`


class _Collector:
    """Events in creation order; each flush batch shares one ingest time a little after the flush."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.events: list[AxiomEvent] = []

    def flush(self, flushed_at_us: int, batch: list[tuple[int, dict]]) -> None:
        ingested = flushed_at_us * 1000 + self.rng.randint(100_000_000, 1_500_000_000)
        self.events.extend(AxiomEvent(at, ingested, fields) for at, fields in batch)


def build_axiom_events(
    plan: DemoPlan, timelines: dict[str, RunTimeline], rows: dict[str, RunRows]
) -> list[AxiomEvent]:
    """All events of the demo, sorted by `_time` (stable for equal times)."""
    rng = random.Random(f"{plan.seed}:axiom")
    sampled: list[SampledRollout] = []
    eval_calls: list[InferenceCall] = []  # benchmark-suite jobs and the standalone evaluation
    for key, timeline in timelines.items():
        run_rng = random.Random(f"{plan.seed}:axiom:{key}")
        lora_kind = "mixed" if timeline.run.era == "current" else "base"
        for rollout in timeline.rollouts():
            sampled.append(sample_rollout(rollout, lora_kind, _in_dip(timeline.run, rollout.step), run_rng))
        if timeline.run.era == "current":
            for evaluation in benchmark_evaluations(timeline):
                challenger = f"{timeline.run.name}/adapter_v{evaluation.step}"
                span = (evaluation.end_us - evaluation.start_us) // (BENCHMARK_EVAL_CALLS + 1)
                for index in range(BENCHMARK_EVAL_CALLS):
                    call = inference_call(
                        evaluation.start_us + span * (index + 1), run_rng.randint(2, 9), challenger, run_rng
                    )
                    eval_calls.append(call)
    evaluation_run = plan.run("evaluation")
    eval_start = to_us(evaluation_run.start)
    span = int(STANDALONE_EVAL.duration_s * US) // (STANDALONE_EVAL_CALLS + 1)
    for index in range(STANDALONE_EVAL_CALLS):
        call = inference_call(
            eval_start + span * (index + 1), rng.randint(1, 10), evaluation_run.config["checkpoint_path"], rng
        )
        eval_calls.append(call)

    plant_extraction_drop((r for s in sampled for r in s.responses), rng)
    assign_cache_counters([c for s in sampled for c in s.calls] + eval_calls, rng)

    out = _Collector(rng)
    for rollout in sampled:
        batch = [*rollout.events, *((r.time_us, order_event(r)) for r in rollout.responses)]
        if not rollout.rollout.failed:
            batch.append(metrics_event(rollout))
        out.flush(rollout.rollout.end_us, batch)
        for call in rollout.calls:
            out.flush(call.end_us, inference_events(call, rng))
    for call in eval_calls:
        out.flush(call.end_us, inference_events(call, rng))
    for key, timeline in timelines.items():
        for segment in timeline.segments:
            if not segment.killed:
                out.flush(segment.end_us, trainer_events(timeline.run, segment, rows[key], rng))
        if timeline.run.era == "current":
            for evaluation in benchmark_evaluations(timeline):
                out.flush(evaluation.end_us, [benchmark_complete_event(timeline.run, evaluation, plan.seed)])
    out.flush(*sweep_events(plan, timelines, rows))
    out.flush(*standalone_eval_events(evaluation_run))
    return sorted(out.events, key=lambda event: event.time_us)


def _in_dip(run: RunPlan, step: int) -> bool:
    first, last = EXTRACTION_DROP.dip_steps
    return run.key == EXTRACTION_DROP.run_key and first <= step <= last
