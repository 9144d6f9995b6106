"""Ratings, Elo gap, learning signal, evaluations and sweeps: hand-made keys and the demo's planted truths."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from diplo_pipeline.demo import plan as planted
from diplo_pipeline.lib.lake.io import write_parquet_atomic
from diplo_pipeline.lib.wandb.schemas import METRIC_POINTS_SCHEMA, RUNS_SCHEMA
from diplo_pipeline.lib.warehouse.catalog import RAW_SCHEMAS
from diplo_pipeline.lib.warehouse.sql_project import Project
from diplo_pipeline.lib.warehouse.sql_runner import define_relations, materialize

RUN = "grpo-20251222-191408"
KEYS = {  # every key shape of source-data.md §1.6/§1.7, and what it must become
    "elo/base_model": ("base_model", "baseline", None),
    "elo/chaos_bot": ("chaos_bot", "baseline", None),
    f"elo/{RUN}_adapter_v150": (f"{RUN}/adapter_v150", "checkpoint", 150),
    "elo/stability-ablation-H-20251226-124256_adapter_v10": (
        "stability-ablation-H-20251226-124256/adapter_v10", "foreign_checkpoint", 10),
    "trueskill/base_model_mu": ("base_model", "baseline", None),
    "trueskill/base_model_sigma": ("base_model", "baseline", None),
    "trueskill/base_model_rating": ("base_model", "baseline", None),
    f"trueskill/{RUN}_adapter_v150_sigma": (f"{RUN}/adapter_v150", "checkpoint", 150),
}
NOT_AGENTS = ["elo/challenger", "elo/win_rate", "elo/games_played", "elo/evaluation_step",
              "elo/vs_random_bot_win_rate", "elo/rollout_updates_count", "trueskill/rollout_updates_count"]


@pytest.fixture
def tiny_lake(tmp_path) -> Path:
    lake = tmp_path / "lake"
    runs = {name: [None] for name in RUNS_SCHEMA.names}
    runs.update(run_id=["r1"], run_name=[RUN], run_kind=["training"], tags=[[]], state=["finished"])
    write_parquet_atomic(pa.table(runs, schema=RUNS_SCHEMA), lake / "raw/wandb/runs/r1.parquet")
    keys = [*KEYS, *NOT_AGENTS]
    points = {
        "run_id": ["r1"] * len(keys), "step": [7] * len(keys), "wandb_step": [7] * len(keys),
        "timestamp": [None] * len(keys), "runtime_s": [None] * len(keys), "key": keys,
        "value": [float(i + 1) for i in range(len(keys))], "value_text": [None] * len(keys),
        "row_kind": ["train"] * len(keys), "write_seq": [7] * len(keys), "segment": [0] * len(keys),
    }
    write_parquet_atomic(pa.table(points, schema=METRIC_POINTS_SCHEMA), lake / "raw/wandb/metric_points/r1.parquet")
    return lake


def test_agent_parsing_of_every_key_shape(tiny_lake):
    project = Project.load()
    con = duckdb.connect()
    define_relations(con, project, tiny_lake, RAW_SCHEMAS, models=[])
    for name in project.upstream("int_wandb__rating_points"):
        materialize(con, project.models[name], tiny_lake)
    got = {
        (agent, kind, ckpt)
        for agent, kind, ckpt in con.execute(
            "select agent, agent_kind, checkpoint_step from int_wandb__rating_points"
        ).fetchall()
    }
    assert got == set(KEYS.values())  # baselines whole, checkpoints own/foreign, non-agents gone
    assert con.execute("select distinct step, scale from int_wandb__rating_points").fetchall() == [(7, "trainer")]


@pytest.fixture(scope="module")
def demo(demo_catalog):
    return demo_catalog


def q(demo, sql, params=None):
    return demo["con"].execute(sql, params or {}).fetchall()


def test_healthy_run_learns_with_a_banded_final_gap(demo):
    healthy = demo["plan"].run("healthy")
    (signal, gap, low, high, declining, total) = q(demo, """
        select learning_signal, final_elo_gap, final_elo_gap_ci_low, final_elo_gap_ci_high,
               checkpoints_declining, checkpoints
        from run_learning where run_id = $id""", {"id": healthy.run_id})[0]
    assert signal == "positive" and declining > total / 2
    assert gap == pytest.approx(planted.HEALTHY_LEAGUE.final_gap, abs=10)
    assert low < gap < high


def test_elo_gap_carries_each_agents_own_latest_rating(demo):
    healthy = demo["plan"].run("healthy")
    # At every step the gap equals best checkpoint minus base_model, each as last rated at or before it.
    bad = q(demo, """
        with g as (select * from elo_gap where run_id = $id),
        latest as (
            select g.step, r.agent, arg_max(r.elo, r.step) as elo
            from g join elo_ratings r on r.run_id = g.run_id and r.step <= g.step and r.scale = 'trainer'
            group by g.step, r.agent
        )
        select g.step from g
        join latest b on b.step = g.step and b.agent = 'base_model'
        join latest c on c.step = g.step and c.agent = g.best_checkpoint
        where abs(g.elo_gap - (c.elo - b.elo)) > 1e-9""", {"id": healthy.run_id})
    assert bad == []


def test_sweep_winner_margin_verdict_and_criteria(demo):
    sweep = planted.SWEEP
    row = q(demo, """select winner_run_name, runner_up_run_name, margin, verdict, expected_ranking_met,
                            success_criteria_met, hypothesis, runs, runs_finished
                     from sweeps where sweep_name = $n""", {"n": sweep.name})[0]
    winner, runner_up, margin, verdict, ranking_met, criteria, hypothesis, runs, finished = row
    assert winner == sweep.run_name(sweep.expected_winner)
    assert runner_up == sweep.run_name(sweep.expected_runner_up)
    expected_margin = sweep.approx_final_gaps[sweep.expected_winner] - sweep.approx_final_gaps[sweep.expected_runner_up]
    assert margin == pytest.approx(expected_margin, abs=10) and verdict == "clear_winner"
    assert ranking_met is True and runs == finished == 3
    assert json.loads(criteria) == {"kl/max < 10": True, "all runs finish 60 steps": True,
                                    "winner beats runner-up by more than 20 Elo": True}
    assert hypothesis == sweep.hypothesis


def test_sweep_runs_varying_params_found_by_diffing_configs(demo):
    sweep = planted.SWEEP
    rows = q(demo, "select sweep_run_letter, varying_params, rank_by_elo_gap from sweep_runs where sweep_name = $n",
             {"n": sweep.name})
    assert {letter: json.loads(params) for letter, params, _ in rows} == sweep.varying
    assert [letter for letter, _, rank in sorted(rows, key=lambda r: r[2])] == list(sweep.expected_ranking)


def test_standalone_and_suite_evaluations(demo):
    evaluation = planted.STANDALONE_EVAL
    healthy = demo["plan"].run("healthy")
    rows = q(demo, """select opponent, win_rate, survival_rate, avg_centers, games, checkpoint_step
                      from evaluations where kind = 'standalone' and source_run_name = $n""", {"n": healthy.name})
    assert {r[0]: (r[1], r[2], r[3]) for r in rows} == evaluation.results
    assert {r[4] for r in rows} == {evaluation.games_per_opponent}
    assert {r[5] for r in rows} == {evaluation.checkpoint_step}
    suite = q(demo, """select evaluation_step, opponent, floor from evaluations
                       where kind = 'benchmark_suite' and source_run_name = $n and opponent <> 'overall'""",
              {"n": healthy.name})
    assert {s for s, _, _ in suite} == {50, 100, 150}
    assert {(o, f) for _, o, f in suite} == {(name, floor) for name, (floor, _) in planted.BENCHMARK_SUITE.items()}
