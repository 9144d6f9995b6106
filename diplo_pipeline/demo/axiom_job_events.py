"""The events of the jobs that flush once, when they finish: benchmark-suite evaluations, the sweep
orchestrator and the standalone evaluation.
"""

from __future__ import annotations

from diplo_pipeline.demo.benchmark_suite import suite_result
from diplo_pipeline.demo.experiment_config import experiment_config
from diplo_pipeline.demo.planted_experiments import STANDALONE_EVAL, SWEEP
from diplo_pipeline.demo.run_catalogue import DemoPlan, RunPlan
from diplo_pipeline.demo.timeline import US, BenchmarkEvaluation, RunTimeline, to_us
from diplo_pipeline.demo.trainer_rows import RunRows


def benchmark_complete_event(run: RunPlan, evaluation: BenchmarkEvaluation, seed: int) -> tuple[int, dict]:
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


def sweep_events(
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


def standalone_eval_events(run: RunPlan) -> tuple[int, list]:
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
