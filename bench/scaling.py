"""The build's cost against the number of runs held (issue 12): `make bench` runs it after its other figures.

    python -m bench.scaling [--sizes 50 200 800] [--steps 100] [--events-per-run 200] [--templates 4]

For each size N, in a process of its own (a clean peak memory) with a fresh data dir and a fresh DAGSTER_HOME,
through the public `diplo_pipeline.build.build` as `diplo build` calls it:
1. cold build of N runs and N × events-per-run Axiom events;
2. no-op build (nothing changed);
3. one new run added, then build;
4. one more step of a running run (a history row appended to its `.wandb` file), then build;
5. one more step again, through the sensors: the real `dagster-daemon` on that lake, and the seconds until
   `run_steps`, the findings and the run's page show it (bench/sensor_path.py).
Each build: wall seconds (and the CPU seconds of the building process, which other work on a shared machine
disturbs less), the asset materialisations and distinct (asset, partition) pairs materialised in it (from the
instance's event log, with the slowest steps), the peak RSS of the building process during it (VmHWM, reset
before each build), and the bytes under the lake.
The cold build is the baseline of the three incremental builds (ratio = build ÷ cold build, same size); the
cold build's own baseline is the smallest size's cold build scaled linearly to N runs (ratio 1.0: linear).

The runs: `--templates` healthy league runs written once by the real SDK (bench/results/scaling-templates-*),
copied N times under new run ids by bench/wandb_copy.py (which decodes and re-frames every record). Copy c is
`sc<c>`, named `grpo-<2026-01-01 + c minutes>` (league keys and the config's run_name follow), seed c, tagged
`scale<c // 8>-<A…H>` with that experiment tag, so every 8 copies form a sweep. Copies keep their template's
metrics and timeline. The last copy is still running (no exit record, nor its final rows); figure 4 adds a
step to it. The Axiom events are the demo's, as in the rest of the bench (bench/workload.py).
Results: the `scaling` key of bench/results/latest.json, and bench/results/scaling.png.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import altair as alt
import dagster as dg
import duckdb
import vl_convert
from rich.console import Console
from rich.table import Table

from bench.measure import merge_results, reset_peak_rss, since_reset_peak_rss_mb, timed
from bench.sensor_path import through_the_daemon
from bench.wandb_copy import CopySpec, append_step, copy_run
from bench.workload import write_axiom, write_wandb
from diplo_pipeline.build import build, ensure_dagster_home
from diplo_pipeline.definitions import defs
from diplo_pipeline.lib.reports.charts.common import chart_data, chart_spec
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.warehouse.catalog import RAW_SCHEMAS
from diplo_pipeline.lib.warehouse.sql_project import Project
from diplo_pipeline.lib.warehouse.sql_runner import define_relations

console = Console(width=None if sys.stdout.isatty() else 200)  # a log keeps the table whole
DEFAULT_SIZES = (50, 200, 800)
BUILDS = {  # key: what the table and the chart call it
    "cold": "cold build",
    "noop": "no-op build",
    "new_run": "one new run",
    "one_step": "one more step",
}
COPY_NAMES_FROM = datetime(2026, 1, 1, tzinfo=UTC)
LETTERS = "ABCDEFGH"  # a sweep's run letters (lib/wandb/run_tables.py SWEEP_TAG)


# --- The workload -----------------------------------------------------------------------------------------


def ensure_templates(base: Path, count: int, steps: int) -> list[Path]:
    """`count` runs of `steps` steps written by the real SDK, once, under base/scaling-templates-<count>x<steps>/."""
    root = base / f"scaling-templates-{count}x{steps}"
    done = root / "complete.json"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        write_wandb(root, count, steps, console.log)
        done.write_text(json.dumps({"runs": count, "steps": steps}))
    files = sorted((root / "wandb").glob("offline-run-*/run-*.wandb"))
    if len(files) != count:
        raise RuntimeError(f"{root} holds {len(files)} runs, not {count}: delete it to write them again")
    return files


def copy_spec(index: int, running: bool = False) -> tuple[CopySpec, str]:
    """Copy `index`'s id, name, tags and config, and the stamp of its offline-run folder."""
    start = COPY_NAMES_FROM + timedelta(minutes=index)
    sweep, letter = f"scale{index // len(LETTERS):03d}", LETTERS[index % len(LETTERS)]
    spec = CopySpec(
        run_id=f"sc{index:06d}",
        name=f"grpo-{start:%Y%m%d-%H%M%S}",
        tags=(f"{sweep}-{letter}",),
        config={"seed": index, "experiment_tag": sweep},
        running=running,
    )
    return spec, f"{start:%Y%m%d_%H%M%S}"


def write_copy(templates: list[Path], wandb_root: Path, index: int, running: bool = False) -> Path:
    spec, stamp = copy_spec(index, running)
    return copy_run(templates[index % len(templates)], wandb_root / "wandb", spec, stamp)


# --- One size, in a process of its own ----------------------------------------------------------------------


def lake_bytes(lake: Path) -> int:
    return sum(p.stat().st_size for p in lake.rglob("*") if p.is_file())


def lake_runs(lake: Path) -> dict:
    """What the lake holds of the runs: distinct ids and names, sweeps, states."""
    con = duckdb.connect()
    try:
        con.execute("set enable_progress_bar = false")
        define_relations(con, Project.load(), lake, RAW_SCHEMAS, models=[])
        ids, names, sweeps = con.execute(
            "select count(distinct run_id), count(distinct run_name), count(distinct sweep_name) from raw_wandb__runs"
        ).fetchone()
        states = dict(con.execute("select state, count(*) from raw_wandb__runs group by all order by state").fetchall())
        points = con.execute("select count(*) from raw_wandb__metric_points").fetchone()[0]
    finally:
        con.close()
    return {"run_ids": ids, "run_names": names, "sweeps": sweeps, "states": states, "metric_points": points}


def measured_build(definitions, instance, paths) -> dict:
    """One `build`, with what it materialised (from the event log of the Dagster runs it started)."""
    before = set(instance.get_run_ids())
    load = os.getloadavg()[0]
    exact_peak = reset_peak_rss()
    cpu = time.process_time()
    result = timed(lambda: build(definitions, instance, paths))
    cpu = time.process_time() - cpu
    peak = since_reset_peak_rss_mb()
    report = result.value
    runs = [run_id for run_id in instance.get_run_ids() if run_id not in before]
    kinds = dg.DagsterEventType
    wanted = {kinds.ASSET_MATERIALIZATION, kinds.STEP_START, kinds.STEP_SUCCESS, kinds.STEP_FAILURE}
    events = [record for run_id in runs for record in instance.get_records_for_run(run_id, of_type=wanted).records]
    records = [r for r in events if r.event_type == kinds.ASSET_MATERIALIZATION]
    started, steps = {}, {}
    for r in events:  # each step's wall time: where the build's time went
        entry = r.event_log_entry
        if r.event_type == kinds.STEP_START:
            started[(r.run_id, entry.step_key)] = entry.timestamp
        elif r.event_type != kinds.ASSET_MATERIALIZATION and (r.run_id, entry.step_key) in started:
            seconds = entry.timestamp - started[(r.run_id, entry.step_key)]
            steps[entry.step_key] = steps.get(entry.step_key, 0.0) + seconds
    if report.failed_steps:
        raise RuntimeError(f"the build failed: {report.failed_steps}")
    return {
        "seconds": result.seconds,
        # CPU seconds of the building process (every thread, DuckDB's too): what the build costs whatever else
        # runs on the machine, which wall seconds on a shared machine do not say; and the load it started under.
        "cpu_seconds": cpu,
        "load_average_1m": load,
        "materializations": len(records),
        "partitions": len({(r.asset_key, r.partition_key) for r in records if r.partition_key is not None}),
        "assets": len({r.asset_key for r in records}),
        "dagster_runs": len(runs),
        "peak_rss_mb": peak,
        "peak_rss_exact": exact_peak,  # False: the process's lifetime peak (VmHWM could not be reset)
        "lake_bytes": lake_bytes(paths.lake),
        "runs_changed": len(report.runs_changed),
        "axiom_days_built": len(report.axiom_days_built),
        "downstream_skipped": report.downstream_skipped,
        "slowest_steps": dict(sorted(steps.items(), key=lambda kv: -kv[1])[:8]),  # seconds, summed over runs
    }


def measure_size(size: int, templates: list[str], events_per_run: int, scratch: str) -> dict:
    """The four builds at `size` runs held, in fresh folders under `scratch` (this process's own environment)."""
    root = Path(scratch) / f"size-{size}"
    inbox, axiom, sweeps = root / "inbox" / "wandb", root / "inbox" / "axiom", root / "inbox" / "sweeps"
    sweeps.mkdir(parents=True)
    sources = [Path(t) for t in templates]
    started = time.perf_counter()
    for index in range(size):
        write_copy(sources, inbox, index, running=index == size - 1)
    console.log(f"[{size} runs] copied {size} runs in {time.perf_counter() - started:.1f}s")
    events = size * events_per_run
    if events:
        write_axiom(axiom, events, lambda msg: console.log(f"[{size} runs] {msg}"))
    running_spec = copy_spec(size - 1)[0]
    running = next((inbox / "wandb").glob(f"offline-run-*-{running_spec.run_id}/*.wandb"))

    paths = DataPaths(root / "data", (inbox,), (axiom,), sweeps)
    # The assets resolve their paths from the environment, as under `dagster dev`; this process is this size's.
    os.environ |= {"DIPLO_DATA_DIR": str(paths.data_dir), "DIPLO_WANDB_DIR": str(inbox),
                   "DIPLO_AXIOM_DIR": str(axiom), "DIPLO_SWEEP_DIR": str(sweeps)}
    os.environ["DAGSTER_HOME"] = str(root / "dagster_home")
    # The running copy must stay `running` through every build: at 800 runs the cold build alone outlasts the
    # default 15 idle minutes, after which the no-op build rightly reads it again as crashed.
    os.environ["DIPLO_RUNNING_IDLE_S"] = str(7 * 86400)
    ensure_dagster_home(root / "dagster_home")
    definitions = defs()
    out: dict = {"runs": size, "axiom_events": events, "builds": {}}
    with dg.DagsterInstance.get() as instance:
        console.log(f"[{size} runs] cold build")
        out["builds"]["cold"] = measured_build(definitions, instance, paths)
        out["lake_after_cold"] = lake_runs(paths.lake)
        console.log(f"[{size} runs] no-op build")
        out["builds"]["noop"] = measured_build(definitions, instance, paths)
        write_copy(sources, inbox, size)
        console.log(f"[{size} runs] one new run, build")
        out["builds"]["new_run"] = measured_build(definitions, instance, paths)
        out["appended_step"] = append_step(running)
        console.log(f"[{size} runs] one more step of {running.parent.name}, build")
        out["builds"]["one_step"] = measured_build(definitions, instance, paths)
        out["lake_after"] = lake_runs(paths.lake)
        console.log(f"[{size} runs] one more step of {running.parent.name}, through dagster-daemon")
        out["through_the_daemon"] = through_the_daemon(paths, instance, running_spec.run_id, running_spec.name,
                                                       lambda: append_step(running))
    out["problems"] = _problems(out, size)
    return out


def _problems(out: dict, size: int) -> list[str]:
    """Where the warehouse did not see what was written (N distinct runs, then the new one) or a build read
    other than what changed: the size's figures are kept and printed, and the run exits non-zero."""
    cold, after, builds = out["lake_after_cold"], out["lake_after"], out["builds"]
    problems = []
    if not cold["run_ids"] == cold["run_names"] == size:
        problems.append(f"after the cold build the lake holds {cold['run_ids']} run ids, {cold['run_names']} names")
    if not after["run_ids"] == after["run_names"] == size + 1:
        problems.append(f"at the end the lake holds {after['run_ids']} run ids, {after['run_names']} names")
    expected = {"cold": size, "noop": 0, "new_run": 1, "one_step": 1}
    for key, runs in expected.items():
        if builds[key]["runs_changed"] != runs:
            problems.append(f"the {BUILDS[key]} read {builds[key]['runs_changed']} runs, not {runs}")
    if "run_steps" not in out["through_the_daemon"]["seconds_to"]:
        problems.append("through dagster-daemon, run_steps never showed the appended step")
    return problems


# --- All sizes ----------------------------------------------------------------------------------------------


def run_scaling(sizes: list[int], steps: int, events_per_run: int, template_count: int, work: Path) -> dict:
    templates = [str(p) for p in ensure_templates(work, template_count, steps)]
    results = []
    with tempfile.TemporaryDirectory(prefix="diplo-scaling-") as scratch:
        for size in sorted(sizes):
            # A fresh process per size: its peak memory is this size's only, and no state carries over.
            with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
                results.append(pool.submit(measure_size, size, templates, events_per_run, scratch).result())
            shutil.rmtree(Path(scratch) / f"size-{size}", ignore_errors=True)
    section = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "steps_per_run": steps,
        "axiom_events_per_run": events_per_run,
        "template_runs": template_count,
        "sizes": results,
    }
    print_table(section)
    for entry in results:
        for problem in entry["problems"]:
            console.print(f"[red]{entry['runs']} runs: {problem}[/red]")
    out = work / "latest.json"
    merge_results(out, {"scaling": section})
    chart = work / "scaling.png"
    write_chart(section, chart)
    console.print(f"written to {out} (key `scaling`) and {chart}")
    return section


def _mib(count: float) -> str:
    return f"{count / 2**20:,.1f} MiB"


def print_table(section: dict) -> None:
    table = Table("runs held", "build", "wall", "baseline (same run)", "ratio", "CPU (ratio)", "materialisations",
                  "partitions", "peak RSS", "lake", "slowest step", title=(
                      f"build cost against runs held: {section['steps_per_run']} steps per run, "
                      f"{section['axiom_events_per_run']} Axiom events per run"))
    smallest = section["sizes"][0]
    for entry in section["sizes"]:
        cold = entry["builds"]["cold"]["seconds"]
        for key, label in BUILDS.items():
            build = entry["builds"][key]
            if key == "cold":
                scale = entry["runs"] / smallest["runs"]
                linear = smallest["builds"]["cold"]["seconds"] * scale
                baseline = f"linear from {smallest['runs']} runs: {linear:.1f}s"
                ratio = build["seconds"] / linear
                cpu_ratio = build["cpu_seconds"] / (smallest["builds"]["cold"]["cpu_seconds"] * scale)
            else:
                baseline, ratio = f"cold build: {cold:.1f}s", build["seconds"] / cold
                cpu_ratio = build["cpu_seconds"] / entry["builds"]["cold"]["cpu_seconds"]
            table.add_row(
                f"{entry['runs']:,}" if key == "cold" else "",
                label,
                f"{build['seconds']:.2f}s",
                baseline,
                f"{ratio:.3f}",
                f"{build['cpu_seconds']:.1f}s ({cpu_ratio:.2f})",
                f"{build['materializations']:,}",
                f"{build['partitions']:,}",
                f"{build['peak_rss_mb']:,.0f} MiB" + ("" if build["peak_rss_exact"] else " (process peak)"),
                _mib(build["lake_bytes"]),
                next((f"{name} {sec:.1f}s" for name, sec in build["slowest_steps"].items()), ""),
                end_section=key == "one_step",
            )
    console.print(table)
    daemon = Table("runs held", "run_steps", "findings", "run page", "Dagster runs launched", title=(
        "one more step of a running run through dagster-daemon: seconds after the file grew (goal ≤ 30 s)"))
    for entry in section["sizes"]:
        path = entry["through_the_daemon"]
        seen = path["seconds_to"]
        cells = [f"{seen[key]:.1f}s" if key in seen else f"not within {path['limit_seconds']:.0f}s"
                 for key in ("run_steps", "findings", "report")]
        launched = ", ".join(f"{run['by']} ({run['assets'] or 'all'} assets, {run['seconds']:.0f}s)"
                             for run in path["dagster_runs"])
        daemon.add_row(f"{entry['runs']:,}", *cells, launched)
    console.print(daemon)


def write_chart(section: dict, path: Path) -> None:
    """Seconds against runs held, one line per build (log-log: a flat line is a cost that does not grow): wall
    seconds, and beside them the CPU seconds of the building process (steadier on a shared machine)."""
    sizes = [entry["runs"] for entry in section["sizes"]]
    rows = [
        {"runs held": entry["runs"], "wall": entry["builds"][key]["seconds"],
         "cpu": entry["builds"][key]["cpu_seconds"], "build": label}
        for entry in section["sizes"]
        for key, label in BUILDS.items()
    ]
    base = alt.Chart(chart_data(rows, ["runs held", "wall", "cpu", "build"])).mark_line(point=True)
    x = alt.X("runs held:Q", scale=alt.Scale(type="log", domain=[min(sizes), max(sizes)], nice=False, padding=24),
              axis=alt.Axis(values=sizes, format="d"))
    color = alt.Color("build:N", sort=list(BUILDS.values()), title="build")

    def panel(field: str, title: str) -> alt.Chart:
        y = alt.Y(f"{field}:Q", scale=alt.Scale(type="log"), title=title)
        return base.encode(x=x, y=y, color=color).properties(width=420, height=280, title=title)

    chart = alt.hconcat(panel("wall", "wall seconds of the build"), panel("cpu", "CPU seconds of the building process"))
    chart = chart.properties(title=(
        f"diplo build: cost against runs held ({section['steps_per_run']} steps, "
        f"{section['axiom_events_per_run']} Axiom events per run)"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(vl_convert.vegalite_to_png(chart_spec(chart), scale=2))


def add_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """The scaling options, under `prefix` in bench/run.py (`--scaling-sizes`, …)."""
    parser.add_argument(f"--{prefix}sizes", type=int, nargs="+", default=list(DEFAULT_SIZES),
                        help="runs held at each size (default: %(default)s)")
    parser.add_argument(f"--{prefix}steps", type=int, default=100, help="steps of each run (default: %(default)s)")
    parser.add_argument(f"--{prefix}events-per-run", type=int, default=200,
                        help="Axiom events per run held (default: %(default)s)")
    parser.add_argument(f"--{prefix}templates", type=int, default=4,
                        help="runs written by the SDK that the copies are made from (default: %(default)s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--work", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    section = run_scaling(args.sizes, args.steps, args.events_per_run, args.templates, args.work)
    return 1 if any(entry["problems"] for entry in section["sizes"]) else 0


if __name__ == "__main__":
    sys.exit(main())
