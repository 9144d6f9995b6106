"""Verdicts that respect the uncertainty, on planted runs written by the real WandB SDK (README "Verdicts and
their uncertainty"): a sweep whose winner is clear and one whose winner is not, runs whose final-gap band
excludes 0 (above and below) and runs whose band does not, and analyze_sweep's table and three rankings for a
named sweep and for `diplo sweep --runs`, in the marts, the CLI (every format) and the pages.

Every band here is ± 1.96 · 40 · sqrt(1² + 1²) = ±110.9 Elo (sigma 1 for the best checkpoint and base_model).
"""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from diplo_pipeline.build import build
from diplo_pipeline.definitions import defs
from diplo_pipeline.demo.sdk import run_in_subprocess
from diplo_pipeline.lib.lake.duck import duckdb_session
from diplo_pipeline.lib.reports.markdown import md_text
from tests.helpers import sdk_runs
from tests.helpers.files import set_mtime

pytestmark = pytest.mark.slow  # builds; tests/conftest.py schedules slow modules first

HALF = 1.96 * 40 * math.sqrt(2)
STAMP = "20251222-190000"
# (sweep, letter) -> plan (tests/helpers/sdk_runs.rated_run)
PLANS = {
    # clear: A's band [+189, +411] clears 0 and B's band [−71, +151]
    ("clearsweep", "A"): {"gap": 300.0, "sigma": 1.0, "base_final": 980.0, "bot_drop": 60.0, "top3": 0.6,
                          "avg_sc": 5.0, "win_bonus": 0.2, "config": {"learning_rate": 1e-5}},
    ("clearsweep", "B"): {"gap": 40.0, "sigma": 1.0, "base_final": 1010.0, "bot_drop": 20.0,
                          "config": {"learning_rate": 1e-6}},
    ("clearsweep", "C"): {"gap": 10.0, "sigma": 1.0, "bot_drop": 40.0, "config": {"learning_rate": 3e-6}},
    # not clear: A [+39, +261] is significant, but overlaps B [−51, +171]: a likely winner; C lies below 0
    ("oversweep", "A"): {"gap": 150.0, "sigma": 1.0, "config": {"kl_beta": 0.0}},
    ("oversweep", "B"): {"gap": 60.0, "sigma": 1.0, "kl_max": 12.0, "config": {"kl_beta": 0.02}},
    ("oversweep", "C"): {"gap": -250.0, "sigma": 1.0, "config": {"kl_beta": 0.05}},
}


def run_name(sweep: str, letter: str) -> str:
    return f"{sweep}-{letter}-{STAMP}"


def band(gap: float) -> str:
    def signed(v: float) -> str:
        return f"+{round(v)}" if round(v) > 0 else f"−{-round(v)}"
    return f"{signed(gap)} [{signed(gap - HALF)}, {signed(gap + HALF)}]"


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    import dagster as dg

    from diplo_pipeline.lib.settings import DataPaths

    root = tmp_path_factory.mktemp("verdicts")
    inbox = root / "inbox"
    for folder in ("wandb", "axiom", "sweeps"):
        (inbox / folder).mkdir(parents=True)
    paths = DataPaths(root / "data", (inbox / "wandb",), (inbox / "axiom",), inbox / "sweeps")
    for i, ((sweep, letter), plan) in enumerate(PLANS.items()):
        run_in_subprocess(sdk_runs.rated_run, str(inbox / "wandb"), f"verd{i:04d}", run_name(sweep, letter), plan)
    set_mtime(inbox / "wandb", sdk_runs.START + 86400)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {"DIPLO_DATA_DIR": paths.data_dir, "DIPLO_WANDB_DIR": inbox / "wandb",
                            "DIPLO_AXIOM_DIR": inbox / "axiom", "DIPLO_SWEEP_DIR": inbox / "sweeps"}.items():
            mp.setenv(name, str(value))
        with dg.DagsterInstance.ephemeral() as instance:
            build(defs(), instance, paths)
    return paths


def query(paths, sql: str, params: dict | None = None) -> list[dict]:
    with duckdb_session(paths.catalog, read_only=True) as con:
        relation = con.execute(sql, params or {})
        names = [d[0] for d in relation.description]
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


@pytest.fixture
def diplo(planted, monkeypatch, capsys):
    from diplo_pipeline import cli

    monkeypatch.setenv("DIPLO_DATA_DIR", str(planted.data_dir))

    def run(*argv: str) -> str:
        assert cli.main(list(argv)) == 0
        return capsys.readouterr().out

    return run


def test_significance_is_the_final_band_excluding_zero_on_either_side(planted):
    rows = {r["run_name"]: r for r in query(planted, "select * from run_learning")}
    for (sweep, letter), plan in PLANS.items():
        row = rows[run_name(sweep, letter)]
        assert row["final_elo_gap"] == pytest.approx(plan["gap"])
        assert row["final_elo_gap_ci_high"] - row["final_elo_gap"] == pytest.approx(HALF)
        assert row["learning_signal"] == "positive"  # its meaning is kept: 2 of 3 checkpoints declining
        assert row["learning_signal_significant"] is (abs(plan["gap"]) > HALF), (sweep, letter)
    # both sides of the rule: a band above 0, one below it, and bands that include it
    assert {name for name, r in rows.items() if r["learning_signal_significant"]} == {
        run_name("clearsweep", "A"), run_name("oversweep", "A"), run_name("oversweep", "C")}


def test_a_winner_is_clear_only_when_its_band_clears_the_runner_ups(planted):
    sweeps = {r["sweep_name"]: r for r in query(planted, "select * from sweeps")}
    clear, over = sweeps["clearsweep"], sweeps["oversweep"]
    assert (clear["verdict"], clear["bands_overlap"]) == ("clear_winner", False)
    assert clear["winner_run_name"] == run_name("clearsweep", "A")
    assert clear["runner_up_run_name"] == run_name("clearsweep", "B")
    assert clear["margin"] == pytest.approx(260.0)
    assert clear["margin_ci_high"] - clear["margin"] == pytest.approx(math.sqrt(2) * HALF)
    # a margin of 90 (over the 20 Elo of analyze_sweep's rule) whose bands overlap: likely, not clear
    assert (over["verdict"], over["bands_overlap"], over["margin"]) == ("likely_winner", True, pytest.approx(90.0))
    assert over["unstable_runs"] == ["B"] and clear["unstable_runs"] == []
    assert clear["ranking"] == ["A", "B", "C"]
    assert clear["ranking_by_base_model_elo"] == ["A", "C", "B"]  # 980, 1000, 1010: lowest first
    assert clear["ranking_by_reference_drop"] == ["A", "C", "B"]  # 320, 200, 90: largest first


def test_sweep_runs_hold_analyze_sweeps_table(planted):
    rows = {r["sweep_run_letter"]: r for r in query(
        planted, "select * from sweep_runs where sweep_name = 'clearsweep'")}
    a = rows["A"]
    assert a["final_chaos_bot_elo"] == pytest.approx(900.0 - 60.0)
    assert a["final_dumb_bot_elo"] == pytest.approx(850.0 - 60.0) and a["final_random_bot_elo"] is None
    assert a["final_base_model_elo"] == pytest.approx(980.0)
    assert a["fixed_reference_drop"] == pytest.approx(5 * 60.0 + 20.0)
    assert a["best_checkpoint"] == f"{run_name('clearsweep', 'A')}/adapter_v6"
    assert a["best_checkpoint_elo"] - a["final_base_model_elo"] == pytest.approx(a["final_elo_gap"])
    outcomes = (a["top3_rate_last10"], a["avg_sc_count_last10"], a["win_bonus_rate_last10"])
    assert outcomes == pytest.approx((0.6, 5.0, 0.2))
    assert a["kl_max_max"] == 1.0 and a["learning_signal_significant"] is True
    assert {k: (r["rank_by_elo_gap"], r["rank_by_base_model_elo"], r["rank_by_reference_drop"])
            for k, r in rows.items()} == {"A": (1, 1, 1), "B": (2, 3, 3), "C": (3, 2, 2)}
    assert json.loads(rows["B"]["varying_params"]) == {"learning_rate": 1e-6}


def test_cli_sweep_says_the_verdict_with_its_bands_in_every_format(diplo):
    got = json.loads(diplo("sweep", "clearsweep", "--format", "json"))
    assert got["verdict_text"] == f"clear winner: A, gap {band(300)}, over B, gap {band(40)}: margin " \
                                  f"+260 [+103, +417], bands apart"
    assert [r["place"] for r in got["rankings"]] == [1, 2, 3]
    assert got["rankings"][0] == {"place": 1, "by_elo_gap": f"A: {band(300)}", "by_base_model_elo": "A: 980",
                                  "by_reference_drop": "A: 320"}
    over = json.loads(diplo("sweep", "oversweep", "--format", "json"))
    assert over["verdict_text"].startswith(f"likely winner: A, gap {band(150)}, over B, gap {band(60)}")
    assert over["verdict_text"].endswith("bands overlap")
    table = diplo("sweep", "clearsweep")
    assert "clear winner: A" in table and "by_reference_drop" in table and "final_elo_gap_ci_low" in table
    header = next(csv.reader(io.StringIO(diplo("sweep", "clearsweep", "--format", "csv"))))
    assert {"final_chaos_bot_elo", "final_elo_gap_ci_low", "final_elo_gap_ci_high", "top3_rate_last10",
            "rank_by_base_model_elo", "rank_by_reference_drop", "config.learning_rate"} <= set(header)


def test_cli_sweep_runs_judges_any_runs_by_the_same_rules(diplo):
    clear_a, over_a = run_name("clearsweep", "A"), run_name("oversweep", "A")
    got = json.loads(diplo("sweep", "--runs", over_a, clear_a, "--format", "json"))
    assert [r["run_name"] for r in got["sweep_runs"]] == [clear_a, over_a]
    assert (got["verdict"], got["bands_overlap"], got["margin"]) == ("likely_winner", True, pytest.approx(150.0))
    assert got["varying_params"] == []  # both ran learning_rate 1e-5, kl_beta 0
    close = json.loads(diplo("sweep", "--runs", run_name("clearsweep", "B"), run_name("oversweep", "B"),
                             "--format", "json"))
    assert close["verdict"] == "close_race" and close["margin"] == pytest.approx(20.0)  # not over 20
    assert close["unstable_runs"] == [run_name("oversweep", "B")]
    assert close["varying_params"] == ["kl_beta", "learning_rate"]  # 0 and 1e-6 against 0.02 and 1e-5
    rows = list(csv.DictReader(io.StringIO(diplo("sweep", "--runs", clear_a, over_a, "--format", "csv"))))
    assert [r["run_name"] for r in rows] == [clear_a, over_a] and rows[0]["learning_signal_significant"] == "True"
    assert "likely winner" in diplo("sweep", "--runs", clear_a, over_a)


def test_no_answer_or_page_says_positive_without_its_significance(diplo, planted):
    not_significant = f"positive (not significant: gap {band(40)})"
    below = f"positive (significant, below base_model: gap {band(-250)})"
    assert json.loads(diplo("elo", run_name("clearsweep", "B"), "--format", "json"))[
        "learning_signal_verdict"] == not_significant
    assert json.loads(diplo("elo", run_name("oversweep", "C"), "--format", "json"))["learning_signal_verdict"] == below
    assert not_significant in diplo("elo", run_name("clearsweep", "B"))
    reports = planted.reports
    page = (reports / "runs" / f"{run_name('clearsweep', 'A')}.html").read_text()
    assert f"positive (significant: gap {band(300)})" in page
    assert md_text(not_significant) in (reports / "tracker.md").read_text()
    sweep_page = (reports / "sweeps" / "clearsweep.html").read_text()
    assert "<b>Verdict.</b> clear winner: A" in sweep_page and "+260 [+103, +417]" in sweep_page
    assert f"A: {band(300)}" in sweep_page  # the rankings, each gap with its band
    over_page = (reports / "sweeps" / "oversweep.html").read_text()
    assert "<b>Verdict.</b> likely winner: A" in over_page and ">clear winner<" not in over_page
