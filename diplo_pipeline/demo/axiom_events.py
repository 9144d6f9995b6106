"""Every Axiom event of the demo, with the real event names and fields of source-data.md §2.2.

Flush timing decides `_sysTime` (ingest time), as in the training system: rollout workers flush when a rollout
ends, the inference engine after every generate call, evaluation jobs and the sweep orchestrator when they
finish, and the trainer only once at the end of its process, so a killed trainer's `gpu_stats` and
`Benchmark_Rollout_<step>` spans never arrive.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from diplo_pipeline.demo.axiom_cache import SAMPLED_MIN_BATCH, assign_cache_counters
from diplo_pipeline.demo.axiom_extraction import plant_extraction_drop
from diplo_pipeline.demo.axiom_rollouts import (
    InferenceCall,
    SampledRollout,
    inference_call,
    metrics_event,
    order_event,
    sample_rollout,
)
from diplo_pipeline.demo.benchmark_suite import suite_result
from diplo_pipeline.demo.experiment_config import experiment_config
from diplo_pipeline.demo.planted_episodes import EXTRACTION_DROP
from diplo_pipeline.demo.planted_experiments import STANDALONE_EVAL, SWEEP
from diplo_pipeline.demo.run_catalogue import DemoPlan, RunPlan
from diplo_pipeline.demo.simulated_system import GPU_STATS_EVERY_S
from diplo_pipeline.demo.timeline import (
    US,
    BenchmarkEvaluation,
    RunTimeline,
    Segment,
    benchmark_evaluations,
    to_us,
)
from diplo_pipeline.demo.trainer_rows import RunRows

GPU_MEMORY_TOTAL = 85_520_809_984  # H100 80 GB, as nvidia-smi reports it
BENCHMARK_EVAL_CALLS = 3
STANDALONE_EVAL_CALLS = 8
LEGACY_CHECKPOINT_EVERY = 10


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
            out.flush(call.end_us, _inference_events(call, rng))
    for call in eval_calls:
        out.flush(call.end_us, _inference_events(call, rng))
    for key, timeline in timelines.items():
        for segment in timeline.segments:
            if not segment.killed:
                out.flush(segment.end_us, _trainer_events(timeline.run, segment, rows[key], rng))
        if timeline.run.era == "current":
            for evaluation in benchmark_evaluations(timeline):
                out.flush(evaluation.end_us, [_benchmark_complete(timeline.run, evaluation, plan.seed)])
    out.flush(*_sweep_events(plan, timelines, rows))
    out.flush(*_standalone_eval_events(evaluation_run))
    return sorted(out.events, key=lambda event: event.time_us)


def _in_dip(run: RunPlan, step: int) -> bool:
    first, last = EXTRACTION_DROP.dip_steps
    return run.key == EXTRACTION_DROP.run_key and first <= step <= last


def _inference_events(call: InferenceCall, rng: random.Random) -> list[tuple[int, dict]]:
    total_s = call.duration_us / US
    tokens_per_second = round(call.tokens_generated / total_s, 3)
    hit_rate = round(call.hits / call.queries, 6) if call.has_cache_stats and call.queries else None
    engine = {"rollout_id": "inference-engine", "batch_size": call.batch_size}
    response = {
        **engine,
        "event": "inference_response",
        "duration_ms": call.duration_us // 1000,
        "tokens_generated": call.tokens_generated,
        "tokens_per_second": tokens_per_second,
    }
    if call.has_cache_stats:
        response.update(
            prefix_cache_hit_rate=hit_rate, prefix_cache_queries=call.queries, prefix_cache_hits=call.hits
        )
    events = [
        (call.start_us, {**engine, "event": "inference_request", "phase": "engine", "step_type": "engine"}),
        (call.end_us, response),
        (
            call.end_us,
            {
                "event": "inference_timing_breakdown",
                "batch_size": call.batch_size,
                "lora_name": call.lora_name,
                "adapter_load_time_s": call.adapter_load_s,
                "generation_time_s": call.generation_s,
                "total_time_s": round(total_s, 3),
                "tokens_generated": call.tokens_generated,
                "tokens_per_second": tokens_per_second,
                "input_tokens_per_second": round(call.prompt_tokens / call.generation_s, 1),
                "output_tokens_per_second": round(call.tokens_generated / call.generation_s, 1),
                "prompt_tokens": call.prompt_tokens,
                "prefix_cache_hit_rate": hit_rate,
            },
        ),
    ]
    if call.has_cache_stats and call.batch_size >= SAMPLED_MIN_BATCH:
        events.append(
            (
                call.end_us,
                {
                    "event": "prefix_cache_stats",
                    "batch_id": f"{rng.getrandbits(32):08x}",
                    "hit_rate": hit_rate,
                    "queries": call.queries,
                    "hits": call.hits,
                    "prompt_tokens_total": call.prompt_tokens,
                    "prompt_tokens_cached": int(call.prompt_tokens * hit_rate),
                    "cache_efficiency": hit_rate,
                    "cache_utilization": None,
                },
            )
        )
    return events


def _trainer_events(
    run: RunPlan, segment: Segment, rows: RunRows, rng: random.Random
) -> list[tuple[int, dict]]:
    """What a trainer process flushes when it ends: GPU samples and per-step rollout spans (legacy era: the
    old training_* events instead of the spans)."""
    events = []
    context = f"train_grpo_benchmark:{run.name}"
    at = segment.start_us + 30 * US
    while at < segment.end_us:
        memory = rng.uniform(0.62, 0.74)
        events.append(
            (
                at,
                {
                    "event": "gpu_stats",
                    "context": context,
                    "gpu_utilization": rng.randint(35, 55),
                    "memory_utilization": round(memory * 100),
                    "memory_used": int(GPU_MEMORY_TOTAL * memory),
                    "memory_total": GPU_MEMORY_TOTAL,
                },
            )
        )
        at += GPU_STATS_EVERY_S * US
    if run.era == "legacy":
        return events + _legacy_training_events(run, segment, rows)
    for step in segment.steps:
        span_end = step.start_us + int(step.rollout_time_s * US)
        name = f"Benchmark_Rollout_{step.step}"
        events.append(
            (
                span_end,
                {
                    "event": "span_duration",
                    "span_name": name,
                    "duration_ms": int(step.rollout_time_s * 1000),
                    "status": "success",
                    "error": None,
                },
            )
        )
    return events


def _legacy_training_events(run: RunPlan, segment: Segment, rows: RunRows) -> list[tuple[int, dict]]:
    config = experiment_config(run.name, run.config)
    events: list[tuple[int, dict]] = [
        (
            segment.start_us,
            {
                "event": "training_start",
                "run_name": run.name,
                "total_steps": config["total_steps"],
                "num_groups_per_step": config["num_groups_per_step"],
                "samples_per_group": config["samples_per_group"],
                "model_id": config["base_model_id"],
                "lora_rank": config["lora_rank"],
                "learning_rate": config["learning_rate"],
            },
        )
    ]
    for step in segment.steps:
        row = rows.by_step[step.step]
        events.append(
            (
                step.end_us,
                {
                    "event": "training_step",
                    "step": step.step,
                    "loss": row["loss/total"],
                    "pg_loss": row["loss/policy_gradient"],
                    "kl": row["loss/kl_divergence"],
                    "grad_norm": row["training/grad_norm"],
                    "learning_rate": row["training/learning_rate"],
                    "reward_mean": row["reward/mean"],
                    "reward_std": row["reward/std"],
                    "reward_min": row["reward/min"],
                    "reward_max": row["reward/max"],
                    "num_trajectories": row["data/num_trajectories"],
                    "num_groups": row["data/num_groups"],
                    "skipped_groups": row["data/skipped_groups"],
                    "mean_completion_logprob": row["logprob/policy"],
                    "mean_ref_logprob": row["logprob/reference"],
                    "mean_advantage": row["advantage/mean"],
                    "advantage_std": row["advantage/std"],
                    "rollout_duration_ms": row["timing/rollout_ms"],
                    "training_duration_ms": row["timing/training_ms"],
                    "total_tokens": row["data/total_tokens"],
                    "tokens_per_second": row["timing/tokens_per_second"],
                },
            )
        )
        if step.step % LEGACY_CHECKPOINT_EVERY == 0:
            adapter = f"/data/checkpoints/{run.name}/adapter_v{step.step}"
            events.append(
                (
                    step.end_us + 2 * US,
                    {
                        "event": "checkpoint_saved",
                        "step": step.step,
                        "adapter_path": adapter,
                        "run_name": run.name,
                    },
                )
            )
    duration_ms = (segment.end_us - segment.start_us) // 1000
    events.append(
        (
            segment.end_us + US,
            {
                "event": "training_complete",
                "run_name": run.name,
                "total_steps": len(segment.steps),
                "total_duration_ms": duration_ms,
            },
        )
    )
    return events


def _benchmark_complete(run: RunPlan, evaluation: BenchmarkEvaluation, seed: int) -> tuple[int, dict]:
    suite = suite_result(run, evaluation.step, seed)
    return (
        evaluation.end_us,
        {
            "event": "benchmark_evaluation_complete",
            "challenger_path": f"{run.name}/adapter_v{evaluation.step}",
            "overall_score": suite.overall_score,
            "benchmarks_passed": suite.benchmarks_passed,
            "benchmarks_total": len(suite.win_rates),
            "total_games": suite.games_played,
            "duration_s": round((evaluation.end_us - evaluation.start_us) / US, 3),
            "training_step": evaluation.step,
        },
    )


def _sweep_events(
    plan: DemoPlan, timelines: dict[str, RunTimeline], rows: dict[str, RunRows]
) -> tuple[int, list]:
    """The orchestrator's events; it flushes them all when the sweep completes."""
    launched = to_us(SWEEP.launched)
    letters = list(SWEEP.tag_suffixes)
    events: list[tuple[int, dict]] = [
        (
            launched,
            {
                "event": "sweep_started",
                "sweep_name": SWEEP.name,
                "hypothesis": SWEEP.hypothesis,
                "run_ids": letters,
            },
        ),
        (
            launched + int(SWEEP.warmup_s * US),
            {
                "event": "sweep_warmup_completed",
                "sweep_name": SWEEP.name,
                "model_id": experiment_config("", {})["base_model_id"],
                "warmup_duration_s": SWEEP.warmup_s,
            },
        ),
    ]
    completed_at = launched
    for letter in letters:
        run = plan.run(f"sweep_{letter}")
        timeline = timelines[run.key]
        identity = {"sweep_name": SWEEP.name, "run_id": letter, "run_name": run.name}
        events.append(
            (
                timeline.start_us - 3 * US,
                {"event": "sweep_run_started", **identity, "config": experiment_config(run.name, run.config)},
            )
        )
        completed_at = timeline.end_us + 15 * US
        hours = round((timeline.end_us - timeline.start_us) / US / 3600, 4)
        final_reward = rows[run.key].segments[-1][-1]["final_reward_mean"]
        events.append(
            (
                completed_at,
                {
                    "event": "sweep_run_completed",
                    **identity,
                    "duration_hours": hours,
                    "final_reward": final_reward,
                },
            )
        )
    finished = completed_at + 5 * US
    total_hours = round((finished - launched) / US / 3600, 4)
    events.append(
        (
            finished,
            {
                "event": "sweep_completed",
                "sweep_name": SWEEP.name,
                "completed_runs": letters,
                "total_duration_hours": total_hours,
            },
        )
    )
    return finished, events


def _standalone_eval_events(run: RunPlan) -> tuple[int, list]:
    start = to_us(run.start)
    end = start + int(STANDALONE_EVAL.duration_s * US)
    checkpoint = run.config["checkpoint_path"]
    results = [
        {"opponent": opponent, "win_rate": win, "survival_rate": survival, "avg_centers": centers}
        for opponent, (win, survival, centers) in STANDALONE_EVAL.results.items()
    ]
    return end, [
        (
            start,
            {
                "event": "evaluation_start",
                "checkpoint_path": checkpoint,
                "opponents": run.config["opponents"],
                "games_per_opponent": run.config["games_per_opponent"],
                "timestamp": run.start.strftime("%Y%m%d-%H%M%S"),
            },
        ),
        (
            end,
            {
                "event": "evaluation_complete",
                "checkpoint_path": checkpoint,
                "total_duration_s": STANDALONE_EVAL.duration_s,
                "results": results,
            },
        ),
    ]
