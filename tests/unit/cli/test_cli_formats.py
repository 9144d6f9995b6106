"""Every query command of `diplo` in every format, on the demo warehouse, run in-process.

Each case names the command, the JSON answer's main table (what `--format csv` must write, row for row),
the CSV header, and a check of the answer against SQL on the catalog or the demo's planted truths, which
also gives the texts the table view must show. Each format then asserts its own shape: JSON parses and
passes the check, CSV has the header and exactly the main table's rows and values, the table (piped, so
at its natural width) shows the texts, and the table in an 80-column terminal shows them whole with no
line wider than the terminal.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len

from diplo_pipeline.demo import plan as planted
from diplo_pipeline.lib.queries.core import select_columns

# The columns the CLI's analyses select (dbt_like_sql/analyses/cli/*.sql).
FINDING_COLUMNS = ", ".join(select_columns("cli/run_findings"))
AGENT_COLUMNS = ", ".join(select_columns("cli/elo_agents"))
SWEEP_RUN_COLUMNS = ", ".join(select_columns("cli/sweep_runs"))
LISTED_RUN_COLUMNS = ", ".join(select_columns("cli/runs"))
TIMING = ["horizon_type", "rollouts", "avg_s", "p50_s", "p95_s", "max_s", "trajectories", "trajectories_per_hour"]
EXTRACTION = ["responses", "full", "partial", "empty", "no_orders_needed", "orders_expected", "orders_extracted",
              "extraction_rate", "response_success_rate"]
INFERENCE = ["requests", "avg_batch_size", "avg_total_time_s", "avg_generation_time_s", "avg_adapter_load_time_s",
             "p95_total_time_s", "avg_input_tps", "avg_output_tps", "tokens_generated", "avg_cache_hit_rate"]
DROP_DAY = (planted.EXTRACTION_DROP.day.isoformat(), (planted.EXTRACTION_DROP.day + timedelta(days=1)).isoformat())
DEGRADED_DAY = ("2025-12-21T00:00Z", "2025-12-22T00:00Z")
CACHE_HOUR = ("2025-12-20T10:00Z", "2025-12-20T11:00Z")
EVENT_COLUMNS = ["event_time", "event", "run_name", "attribution", "rollout_id", "key_fields"]


def columns(spec: str) -> list[str]:
    return [c.strip() for c in spec.split(",")]


def sql(demo, query: str, params: dict | None = None) -> list[tuple]:
    return demo["con"].execute(query, params or {}).fetchall()


def table_columns(demo, table: str) -> list[str]:
    return [name for name, *_ in sql(demo, f"describe {table}")]


def healthy(demo):
    return demo["plan"].run("healthy")


@dataclass(frozen=True)
class Case:
    argv: Callable[[dict], list[str]]
    main: Callable[[Any], list[dict]]  # the JSON answer's main table, as --format csv must write it
    header: Callable[[dict, Any], list[str]]
    check: Callable[[dict, Any], list[str]]  # asserts the answer; returns texts the table view must show


# --- the checks: each against SQL or the plan --------------------------------------------------------------


def check_runs(demo, got):
    assert {r["run_id"] for r in got} == {run_id for (run_id,) in sql(demo, "select run_id from runs")}
    return [r["run_name"] for r in got]


def check_run(demo, got):
    run = healthy(demo)
    assert got["run"]["run_id"] == run.run_id and got["config"]["total_steps"] == planted.HEALTHY_STEPS
    return [run.name, run.run_id]


def check_metrics(demo, got):
    ((points,),) = sql(demo,
                       "select count(distinct step) from metric_points where run_id = $id and key = 'benchmark/loss'",
                       {"id": healthy(demo).run_id})
    assert got["data_points"] == points == len(got["metrics"]["benchmark/loss"]["values"])
    return ["benchmark/loss", str(points)]


SWEEP_A, SWEEP_C = planted.SWEEP.run_name("A"), planted.SWEEP.run_name("C")


def check_compare(demo, got):
    maxima = dict(sql(demo, """
        select r.run_name, max(p.value) from metric_points as p join runs as r using (run_id)
        where p.key = 'kl/max' and r.run_name in ($a, $c) group by r.run_name
    """, {"a": SWEEP_A, "c": SWEEP_C}))
    assert {r["run_name"]: r["max"] for r in got["comparison"]["kl/max"]} == maxima
    return [SWEEP_A, SWEEP_C]


def check_export(demo, got):
    ((points,),) = sql(demo, "select count(*) from metric_points where run_id = $id", {"id": healthy(demo).run_id})
    assert got["metric_points"] == points and Path(got["output_path"]).stat().st_size == got["file_size"]
    return [got["output_path"]]


def check_elo(demo, got):
    ((agents,),) = sql(demo, "select count(*) from elo_agent_summary where run_id = $id", {"id": healthy(demo).run_id})
    best = f"{healthy(demo).name}/adapter_v150"
    assert got["best_checkpoint"]["agent"] == best and len(got["checkpoints"]) + len(got["baselines"]) == agents
    return [best, "base_model", "positive"]


def check_sweep(demo, got):
    assert got["winner_run_name"] == planted.SWEEP.run_name(planted.SWEEP.expected_winner)
    return [planted.SWEEP.run_name(letter) for letter in "ABC"]


def check_run_set(demo, got):
    # --runs judges any runs by the sweep's rules: on the demo's sweep runs, the same winner and verdict
    assert got["winner_run_name"] == SWEEP_C and got["verdict"] == "clear_winner" and got["sweep_name"] is None
    return [SWEEP_A, SWEEP_C, "clear winner"]


def check_findings(demo, got):
    diverging = demo["plan"].run(planted.DIVERGENCE.run_key)
    expected = sql(demo, "select rule, severity from findings where run_id = $id", {"id": diverging.run_id})
    assert sorted((f["rule"], f["severity"]) for f in got["findings"]) == sorted(expected)
    return [rule for rule, _ in expected]


def check_report(demo, got):
    page = demo["paths"].reports / "runs" / f"{healthy(demo).name}.html"
    assert (got["html"], got["html_exists"]) == (str(page), True)
    return [str(page)]


def _last_6h_rollouts(demo) -> dict[str, int]:
    return dict(sql(demo, """
        select coalesce(horizon_type, 'unknown'), count(*) from rollouts
        where status = 'completed' and duration_s is not null
          and completed_at >= (select max(event_time) from axiom_events) - interval 6 hour
          and completed_at <= (select max(event_time) from axiom_events)
        group by all
    """))


def check_rollout_timing(demo, got):
    total = sum(_last_6h_rollouts(demo).values())
    assert total > 0 and [(r["horizon_type"], r["rollouts"]) for r in got["timing"]] == [("all", total)]
    return ["all", str(total)]


def check_rollout_timing_by_horizon(demo, got):
    per_horizon = _last_6h_rollouts(demo)
    expected = {"all": sum(per_horizon.values()), **per_horizon}
    assert {r["horizon_type"]: r["rollouts"] for r in got["timing"]} == expected and len(per_horizon) > 1
    return list(expected)


def check_errors(demo, got):
    ((total,),) = sql(demo, """
        select count(*) from axiom_events
        where event like '%error%' or event like '%fail%' or (event = 'span_duration' and status = 'error')
    """)
    assert got["count"] == total and got["shown"] == len(got["errors"]) == min(total, 50)
    return [got["errors"][0]["event"]]


def _drop_day_orders(demo) -> dict[str, tuple[int, int]]:
    return {power: (expected, extracted) for power, expected, extracted in sql(demo, """
        select power_name, sum(expected_count),
               sum(case when event = 'orders_empty' then 0 else least(orders_count, expected_count) end)
        from axiom_events
        where cast(timezone('UTC', event_time) as date) = $d
          and event in ('orders_extracted', 'orders_partial', 'orders_empty')
        group by power_name
    """, {"d": planted.EXTRACTION_DROP.day})}


def check_extraction(demo, got):
    ((stats),) = got["stats"]
    assert stats["orders_expected"] == sum(expected for expected, _ in _drop_day_orders(demo).values())
    return [str(stats["orders_expected"])]


def check_extraction_by_power(demo, got):
    orders = {r["power_name"]: (r["orders_expected"], r["orders_extracted"]) for r in got["stats"]}
    assert orders == _drop_day_orders(demo)
    italy = next(r for r in got["stats"] if r["power_name"] == planted.EXTRACTION_DROP.power)
    assert italy["extraction_rate"] == pytest.approx(planted.EXTRACTION_DROP.rate)
    return list(planted.POWERS)


def check_health(demo, got):
    ((hours,),) = sql(demo, "select count(*) from health_hourly where hour >= '2025-12-21 00:00:00+00' "
                            "and hour < '2025-12-22 00:00:00+00'")
    assert got["hours_by_status"]["degraded"] == 1 and len(got["hours"]) == hours
    return ["degraded", "2025-12-21 08:00:00Z"]


def _calls_in_cache_hour(demo) -> dict[str | None, int]:
    return dict(sql(demo, """
        select lora_name, count(*) from axiom_events where event = 'inference_timing_breakdown'
          and event_time >= '2025-12-20 10:00:00+00' and event_time < '2025-12-20 11:00:00+00' group by all
    """))


def check_inference(demo, got):
    ((stats),) = got["stats"]
    assert stats["requests"] == sum(_calls_in_cache_hour(demo).values())
    return [str(stats["requests"])]


def check_inference_by_adapter(demo, got):
    assert {r["lora_name"]: r["requests"] for r in got["stats"]} == _calls_in_cache_hour(demo)
    return [name for name in _calls_in_cache_hour(demo) if name]


def check_cache(demo, got):
    assert got["cache_stats"]["hit_rate"] == pytest.approx(planted.CACHE_RESET.exact_hit_rate, abs=1e-9)
    return ["0.62"]


# --- per-run answers (--run): each against int_axiom__event_runs, the planted episodes and the rollouts mart --


def run_of(demo, key: str):
    return demo["plan"].run(key)


def attributed(demo, run_name: str, where: str) -> int:
    ((count,),) = sql(demo, f"""
        select count(*) from axiom_events as e join int_axiom__event_runs as a using (event_id)
        where a.run_name = $run and {where}
    """, {"run": run_name})
    return count


def check_errors_of_run(demo, got):
    crashed = run_of(demo, planted.CRASH.run_key).name
    expected = attributed(demo, crashed, "(e.event like '%error%' or e.event like '%fail%' "
                                         "or (e.event = 'span_duration' and e.status = 'error'))")
    assert got["count"] == expected > 0 and {r["run_name"] for r in got["errors"]} == {crashed}
    assert got["time_range"]["run_name"] == crashed
    return [crashed]


def check_health_of_run(demo, got):
    crashed = run_of(demo, planted.CRASH.run_key).name
    degraded = [h for h in got["hours"] if h["status"] != "healthy"]
    assert [h["hour"] for h in degraded] == ["2025-12-21T08:00:00Z"]
    assert degraded[0]["rollouts_failed"] >= planted.DEGRADED_HOUR.failed_rollouts
    assert got["totals"]["rollouts_failed"] == attributed(demo, crashed, "e.event = 'rollout_error'")
    assert got["totals"]["events"] == attributed(demo, crashed, "true")
    assert {t["target"]: t["met"] for t in got["operating_targets"]}["rollout_error_alert"] is True
    return ["degraded", "2025-12-21 08:00:00Z"]


def check_extraction_of_run(demo, got):
    italy = next(r for r in got["stats"] if r["power_name"] == planted.EXTRACTION_DROP.power)
    assert (italy["orders_expected"], italy["orders_extracted"]) == (planted.EXTRACTION_DROP.orders_expected,
                                                                     planted.EXTRACTION_DROP.orders_extracted)
    assert {r["power_name"]: (r["orders_expected"], r["orders_extracted"]) for r in got["stats"]} == \
        _drop_day_orders(demo)  # the run's only day, which no other run shares
    return list(planted.POWERS)


def check_rollout_timing_of_run(demo, got):
    ((rollouts,),) = sql(demo, "select count(*) from rollouts where run_name = $run and status = 'completed' "
                               "and duration_s is not null", {"run": healthy(demo).name})
    assert [(r["horizon_type"], r["rollouts"]) for r in got["timing"]] == [("all", rollouts)] and rollouts > 0
    return ["all", str(rollouts)]


def check_inference_of_run(demo, got):
    ((stats),) = got["stats"]
    calls = attributed(demo, healthy(demo).name, "e.event = 'inference_timing_breakdown'")
    assert stats["requests"] == calls > 0
    return [str(calls)]


def check_cache_of_run(demo, got):
    # the hour of the engine restart, inside the diverging run: counter differences across the reset
    assert got["cache_stats"]["hit_rate"] == pytest.approx(planted.CACHE_RESET.exact_hit_rate, abs=1e-9)
    assert got["time_range"]["run_name"] == run_of(demo, planted.DIVERGENCE.run_key).name
    return ["0.62"]


def check_events(demo, got):
    ((total,),) = sql(demo, """
        select count(*) from axiom_events
        where event_time >= (select max(event_time) from axiom_events) - interval 1 hour
    """)
    assert got["count"] == total and got["shown"] == len(got["events"]) == min(total, 50)
    assert json.loads(got["events"][0]["key_fields"])  # the event's own fields
    return [got["events"][0]["event"]]


def check_events_of_run(demo, got):
    crashed = run_of(demo, planted.CRASH.run_key).name
    failures = attributed(demo, crashed, "e.event = 'rollout_error'")
    assert got["count"] == got["shown"] == failures >= planted.DEGRADED_HOUR.failed_rollouts
    assert {(r["event"], r["run_name"], r["attribution"]) for r in got["events"]} == {
        ("rollout_error", crashed, "rollout")}
    return [crashed, "rollout_error"]


def check_metrics_runtime(demo, got):
    runtimes = [r for (r,) in sql(demo, """
        select runtime_s from metric_points where run_id = $id and key = 'benchmark/loss'
        qualify write_seq = max(write_seq) over (partition by run_id, row_kind, step, key) order by runtime_s
    """, {"id": healthy(demo).run_id})]
    values = got["metrics"]["benchmark/loss"]["values"]
    assert got["x_axis"] == "_runtime" and [v["_runtime"] for v in values] == runtimes and runtimes[0] is not None
    return ["benchmark/loss", "_runtime"]


def check_sql(demo, got):
    names = [name for (name,) in sql(demo, "select run_name from runs order by run_name")]
    assert [r["run_name"] for r in got] == names
    return names


# --- the cases ---------------------------------------------------------------------------------------------


def fixed(header: list[str]) -> Callable[[dict, Any], list[str]]:
    return lambda demo, got: header


def _run_rows(got) -> list[dict]:
    return [{"section": s, "key": k, "value": v} for s in ("run", "config", "summary") for k, v in got[s].items()]


def _sweep_rows(got) -> list[dict]:
    return [{**{k: v for k, v in r.items() if k != "varying_params"},
             **{f"config.{k}": v for k, v in r["varying_params"].items()}} for r in got["sweep_runs"]]


SWEEP_HEADER = [c for c in columns(SWEEP_RUN_COLUMNS) if c != "varying_params"]
WINDOWED = {
    "rollout-timing": (["rollout-timing"], TIMING, check_rollout_timing),
    "rollout-timing --by-horizon": (["rollout-timing", "--by-horizon"], TIMING, check_rollout_timing_by_horizon),
    "errors": (["errors", "--since", "2025-12-01"],
               ["event_time", "event", "run_name", "rollout_id", "span_name", "error"], check_errors),
    "extraction-stats": (["extraction-stats", "--since", DROP_DAY[0], "--until", DROP_DAY[1]], EXTRACTION,
                         check_extraction),
    "extraction-stats --by-power": (["extraction-stats", "--by-power", "--since", DROP_DAY[0], "--until", DROP_DAY[1]],
                                    ["power_name", *EXTRACTION], check_extraction_by_power),
    "inference-stats": (["inference-stats", "--since", CACHE_HOUR[0], "--until", CACHE_HOUR[1]], INFERENCE,
                        check_inference),
    "errors --run": (["errors", "--run", "{crashed}"],
                     ["event_time", "event", "run_name", "rollout_id", "span_name", "error"], check_errors_of_run),
    "extraction-stats --run --by-power": (["extraction-stats", "--by-power", "--run", "{extraction}"],
                                          ["power_name", *EXTRACTION], check_extraction_of_run),
    "rollout-timing --run": (["rollout-timing", "--run", "{healthy}"], TIMING, check_rollout_timing_of_run),
    "inference-stats --run": (["inference-stats", "--run", "{healthy}"], INFERENCE, check_inference_of_run),
    "events": (["events"], EVENT_COLUMNS, check_events),
    "events --run --event": (["events", "--run", "{crashed}", "--event", "rollout_error"], EVENT_COLUMNS,
                             check_events_of_run),
    "inference-stats --by-adapter": (["inference-stats", "--by-adapter", "--since", CACHE_HOUR[0], "--until",
                                      CACHE_HOUR[1]], ["lora_name", "adapter_kind", *INFERENCE],
                                     check_inference_by_adapter),
}
CASES: dict[str, Case] = {
    "runs": Case(lambda d: ["runs"], lambda got: got, fixed(columns(LISTED_RUN_COLUMNS)), check_runs),
    "run": Case(lambda d: ["run", healthy(d).name], _run_rows, fixed(["section", "key", "value"]), check_run),
    "metrics": Case(lambda d: ["metrics", healthy(d).name, "-m", "benchmark/loss"],
                    lambda got: [{"key": "benchmark/loss", **p} for p in got["metrics"]["benchmark/loss"]["values"]],
                    fixed(["key", "step", "value"]), check_metrics),
    "compare": Case(lambda d: ["compare", SWEEP_A, SWEEP_C, "-m", "kl/max"],
                    lambda got: [{"metric": k, **r} for k, rows in got["comparison"].items() for r in rows],
                    fixed(["metric", "run_id", "run_name", "points", "final", "final_step", "max", "min", "mean"]),
                    check_compare),
    "export": Case(lambda d: ["export", healthy(d).name, "-o", "{tmp}/run.json"], lambda got: [got],
                   fixed(["status", "run_id", "run_name", "output_path", "file_size", "metric_points"]), check_export),
    "elo": Case(lambda d: ["elo", healthy(d).name], None, fixed(columns(AGENT_COLUMNS)), check_elo),
    "sweep": Case(lambda d: ["sweep", planted.SWEEP.name], _sweep_rows,
                  lambda d, got: SWEEP_HEADER + [f"config.{k}" for k in got["sweep_runs"][0]["varying_params"]],
                  check_sweep),
    "sweep --runs": Case(lambda d: ["sweep", "--runs", SWEEP_A, SWEEP_C], _sweep_rows,
                         lambda d, got: SWEEP_HEADER + [f"config.{k}" for k in got["sweep_runs"][0]["varying_params"]],
                         check_run_set),
    "findings": Case(lambda d: ["findings", d["plan"].run(planted.DIVERGENCE.run_key).name],
                     lambda got: got["findings"], fixed(columns(FINDING_COLUMNS)), check_findings),
    "report": Case(lambda d: ["report", healthy(d).name], lambda got: [got],
                   fixed(["run_id", "run_name", "html", "html_exists", "markdown", "markdown_exists"]), check_report),
    **{name: Case(lambda d, argv=argv: argv, lambda got: got[next(k for k in got if isinstance(got[k], list))],
                  fixed(header), check) for name, (argv, header, check) in WINDOWED.items()},
    "health": Case(lambda d: ["health", "--since", DEGRADED_DAY[0], "--until", DEGRADED_DAY[1]],
                   lambda got: got["hours"], lambda d, got: table_columns(d, "health_hourly"), check_health),
    "health --run": Case(lambda d: ["health", "--run", run_of(d, planted.CRASH.run_key).run_id],
                         lambda got: got["hours"], lambda d, got: table_columns(d, "health_hourly"),
                         check_health_of_run),
    "cache-stats --run": Case(lambda d: ["cache-stats", "--run", run_of(d, planted.DIVERGENCE.run_key).name,
                                         "--since", CACHE_HOUR[0], "--until", CACHE_HOUR[1]],
                              lambda got: got["hours"], lambda d, got: table_columns(d, "cache_stats"),
                              check_cache_of_run),
    "metrics --x-axis _runtime": Case(lambda d: ["metrics", healthy(d).name, "-m", "benchmark/loss", "--x-axis",
                                                 "_runtime"],
                                      lambda got: [{"key": "benchmark/loss", **p}
                                                   for p in got["metrics"]["benchmark/loss"]["values"]],
                                      fixed(["key", "step", "_runtime", "value"]), check_metrics_runtime),
    "cache-stats": Case(lambda d: ["cache-stats", "--since", CACHE_HOUR[0], "--until", CACHE_HOUR[1]],
                        lambda got: got["hours"], lambda d, got: table_columns(d, "cache_stats"), check_cache),
    "sql": Case(lambda d: ["sql", "select run_name, last_step from runs order by run_name"], lambda got: got,
                fixed(["run_name", "last_step"]), check_sql),
}
# elo's CSV is every agent row (checkpoints and baselines as the mart has them), not the JSON's two lists.
ELO_CSV_ROWS = "select {} from elo_agent_summary where run_id = $id"


def argv_of(case: Case, demo, tmp_path: Path) -> list[str]:
    runs = {"{crashed}": planted.CRASH.run_key, "{extraction}": planted.EXTRACTION_DROP.run_key, "{healthy}": "healthy"}
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in case.argv(demo)]
    return [demo["plan"].run(runs[arg]).name if arg in runs else arg for arg in argv]


def json_answer(diplo, argv: list[str]):
    code, out, err = diplo(*argv, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def _scalar(value) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


@pytest.mark.parametrize("fmt", ["json", "csv", "table", "table at 80 columns"])
@pytest.mark.parametrize("name", list(CASES))
def test_every_command_in_every_format(name, fmt, demo, diplo, tmp_path, terminal):
    case = CASES[name]
    argv = argv_of(case, demo, tmp_path)
    got = json_answer(diplo, argv)
    shown = case.check(demo, got)  # the JSON answer is right
    if fmt == "json":
        return
    if fmt == "csv":
        code, out, err = diplo(*argv, "--format", "csv")
        assert code == 0, err
        header, *lines = list(csv.reader(io.StringIO(out)))
        assert header == case.header(demo, got)
        if case.main is None:  # elo
            expected = sql(demo, ELO_CSV_ROWS.format(AGENT_COLUMNS), {"id": healthy(demo).run_id})
            assert sorted(line[0] for line in lines) == sorted(row[0] for row in expected)
            return
        main = case.main(got)
        assert len(lines) == len(main) > 0
        for line, row in zip(lines, main, strict=True):
            for column, cell in zip(header, line, strict=True):
                if _scalar(row.get(column)):
                    assert cell == ("" if row.get(column) is None else str(row[column])), (column, cell, row)
        return
    width = 80 if fmt == "table at 80 columns" else None
    screen = terminal(width) if width else None
    code, out, err = diplo(*argv)
    assert code == 0 and "Traceback" not in err, err
    text = screen.getvalue() if screen else out
    lines = text.splitlines()
    for expected in shown:  # whole, on one line: never folded, cut or ellipsised
        assert any(expected in line for line in lines), (expected, text)
    if width:
        too_wide = [line for line in lines if cell_len(line) > width and len(line.split()) > 1]
        assert too_wide == [], too_wide  # only a single unbreakable value may stand wider than the terminal
