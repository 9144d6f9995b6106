"""Generate the demo data: real WandB offline runs, Axiom NDJSON exports, a sweep definition and a manifest.

    out_dir/wandb/offline-run-*/run-<id>.wandb   WANDB_DIR = out_dir (SDK scratch in out_dir/.wandb-sdk)
    out_dir/axiom/diplomacy-YYYY-MM-DD.ndjson[.gz] plus one overlapping re-export
    out_dir/sweeps/stability-ablation/sweep.yaml
    out_dir/manifest.json                          the plan and the values computed from the data

Everything but the `.wandb` files is byte-for-byte deterministic for a seed (the SDK stamps those with
wall-clock bits). The run contents are decided before anything is written, checked against the plan
(selfcheck), and only then written; each WandB process runs in its own child process, two at a time.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import date
from pathlib import Path

from diplo_pipeline.demo import plan as plan_module
from diplo_pipeline.demo.axiom_events import build_axiom_events
from diplo_pipeline.demo.axiom_export import write_exports
from diplo_pipeline.demo.experiment_config import wandb_config
from diplo_pipeline.demo.legacy_rows import evaluation_artifacts, evaluation_rows, legacy_rows, power_law_rows
from diplo_pipeline.demo.run_catalogue import DEFAULT_SEED, DemoPlan, build_plan
from diplo_pipeline.demo.selfcheck import verify
from diplo_pipeline.demo.sweep_yaml import write_sweep_yaml
from diplo_pipeline.demo.timeline import US, RunTimeline, build_timelines, to_datetime, to_us
from diplo_pipeline.demo.trainer_rows import RunRows, trainer_rows
from diplo_pipeline.demo.wandb_writer import ProcessWrite, write_processes

OUTPUT_DIRS = ("wandb", "axiom", "sweeps", ".wandb-sdk")
PARALLEL_WRITERS = 2  # a 2-core machine: more SDK processes at once only contend


def generate_demo(
    out_dir: Path, seed: int = DEFAULT_SEED, progress: Callable[[str], None] | None = None
) -> dict:
    """Write the demo under `out_dir` (replacing an earlier one) and return its manifest (as in manifest.json)."""
    started = time.perf_counter()
    say = progress or (lambda message: None)
    out_dir = Path(out_dir)
    for name in OUTPUT_DIRS:
        shutil.rmtree(out_dir / name, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)

    plan = build_plan(seed)
    timelines = build_timelines(plan)
    rows = {key: _rows(timeline, seed) for key, timeline in timelines.items()}
    events = build_axiom_events(plan, timelines, rows)
    say(f"planned {len(plan.runs)} runs and {len(events)} Axiom events; checking them against the plan")
    facts = verify(plan, timelines, rows, events)

    axiom = write_exports(events, out_dir / "axiom")
    say(f"wrote {len(axiom['files'])} Axiom export files")
    sweep_file = write_sweep_yaml(out_dir / "sweeps")
    files = _write_wandb(out_dir, plan, timelines, rows, say)

    manifest = _manifest(plan, timelines, files, out_dir, axiom, sweep_file, facts)
    manifest["generation_seconds"] = round(time.perf_counter() - started, 2)
    text = json.dumps(manifest, indent=2, default=_json_default)
    (out_dir / "manifest.json").write_text(text + "\n")
    say(f"demo written to {out_dir} in {manifest['generation_seconds']} s")
    return json.loads(text)  # exactly what manifest.json holds


def _json_default(value):
    if isinstance(value, date):  # and datetime
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} in the manifest")


def _rows(timeline: RunTimeline, seed: int) -> RunRows:
    era = timeline.run.era
    if era == "legacy":
        return legacy_rows(timeline, seed)
    if era == "power_law":
        return power_law_rows(timeline, seed)
    return trainer_rows(timeline, seed)


def _process_writes(
    plan: DemoPlan, timelines: dict[str, RunTimeline], rows: dict[str, RunRows]
) -> dict[str, list]:
    writes: dict[str, list[ProcessWrite]] = {}
    for key, run in plan.runs.items():
        if run.era == "evaluation":
            eval_rows = evaluation_rows(run)
            writes[key] = [
                ProcessWrite(
                    run.run_id,
                    run.name,
                    run.start.timestamp(),
                    run.config,
                    list(run.tags),
                    eval_rows,
                    last_time=eval_rows[-1]["_timestamp"],
                    artifacts=evaluation_artifacts(run),
                )
            ]
            continue
        timeline = timelines[key]
        config = wandb_config(run.name, run.config)
        writes[key] = [
            ProcessWrite(
                run.run_id,
                run.name,
                segment.start_us / US,
                config,
                list(run.tags),
                segment_rows,
                resume=index > 0,
                kill_line=f"[step {segment.steps[-1].step + 1}] waiting for rollouts"
                if segment.killed
                else None,
                last_time=segment_rows[-1]["_timestamp"],
            )
            for index, (segment, segment_rows) in enumerate(zip(timeline.segments, rows[key].segments, strict=True))
        ]
    return writes


def _write_wandb(
    out_dir: Path, plan: DemoPlan, timelines, rows, say: Callable[[str], None]
) -> dict[str, list[Path]]:
    writes = _process_writes(plan, timelines, rows)
    files: dict[str, list[Path]] = {}
    with ThreadPoolExecutor(max_workers=PARALLEL_WRITERS) as pool:
        futures = {
            key: pool.submit(write_processes, out_dir, run_writes) for key, run_writes in writes.items()
        }
        for key, future in futures.items():
            files[key] = future.result()
            say(f"wrote WandB run {plan.run(key).name} ({len(files[key])} process(es))")
    return files


def _manifest(
    plan: DemoPlan, timelines, files, out_dir: Path, axiom: dict, sweep_file: Path, facts: dict
) -> dict:
    runs = {}
    for key, run in plan.runs.items():
        entry = {
            "run_id": run.run_id,
            "name": run.name,
            "era": run.era,
            "state": run.state,
            "tags": list(run.tags),
            "config_overrides": run.config,
            "wandb_files": [str(path.relative_to(out_dir)) for path in files[key]],
        }
        if key in timelines:
            timeline = timelines[key]
            entry.update(
                start=to_datetime(timeline.start_us),
                end=to_datetime(timeline.end_us),
                steps=run.steps,
                last_step=timeline.segments[-1].steps[-1].step,
                processes=[
                    {
                        "start": to_datetime(s.start_us),
                        "end": to_datetime(s.end_us),
                        "first_step": s.steps[0].step,
                        "last_step": s.steps[-1].step,
                        "killed": s.killed,
                    }
                    for s in timeline.segments
                ],
                rollouts=len(timeline.rollouts()),
                failed_rollouts=sum(r.failed for r in timeline.rollouts()),
            )
        else:
            entry.update(
                start=run.start,
                end=to_datetime(to_us(run.start) + int(plan_module.STANDALONE_EVAL.duration_s * US)),
            )
        runs[key] = entry
    return {
        "seed": plan.seed,
        "runs": runs,
        "planted": {
            "divergence": asdict(plan_module.DIVERGENCE),
            "crash": asdict(plan_module.CRASH),
            "resume": asdict(plan_module.RESUME),
            "extraction_drop": asdict(plan_module.EXTRACTION_DROP),
            "degraded_hour": asdict(plan_module.DEGRADED_HOUR),
            "cache_reset": asdict(plan_module.CACHE_RESET),
            "duplicate_export": asdict(plan_module.DUPLICATE_EXPORT),
            "sweep": asdict(plan_module.SWEEP),
            "power_law_runs": {key: asdict(law) for key, law in plan_module.POWER_LAW_RUNS.items()},
            "standalone_eval": asdict(plan_module.STANDALONE_EVAL),
            "healthy_league": asdict(plan_module.HEALTHY_LEAGUE),
            "healthy_dynamics": asdict(plan_module.HEALTHY_DYNAMICS),
            "gzipped_day": plan_module.GZIPPED_DAY,
        },
        "volume": {
            "rollouts_per_step": plan_module.ROLLOUTS_PER_STEP,
            "inference_calls_per_rollout": plan_module.INFERENCE_CALLS_PER_ROLLOUT,
            "order_phases": plan_module.ORDER_PHASES,
            "gpu_stats_every_s": plan_module.GPU_STATS_EVERY_S,
        },
        "axiom": axiom,
        "sweep_yaml": str(sweep_file.relative_to(out_dir)),
        "computed": facts,
    }
