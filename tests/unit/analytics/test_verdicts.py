"""The verdict rules (SQL macros, dbt_like_sql/macros/sweeps.sql) on both sides of each boundary, and how a verdict
reads (lib/analytics/verdicts.py). The planted-run versions, end to end: tests/integration/test_sweep_verdicts.py."""

from __future__ import annotations

import duckdb
import pytest

from diplo_pipeline.lib.analytics.verdicts import gap_with_band, learning_signal_text, sweep_verdict_text
from diplo_pipeline.lib.warehouse.sql_project import load_macros


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    for statement in load_macros():
        con.execute(statement)
    yield con
    con.close()


@pytest.mark.parametrize(("low", "high", "significant"), [
    (1.0, 300.0, True), (-300.0, -1.0, True),  # the band clears 0 above, below
    (0.0, 300.0, False), (-260.0, 336.0, False), (None, None, False), (5.0, None, False),  # touches, includes, none
])
def test_a_gap_is_significant_only_when_its_band_excludes_zero(con, low, high, significant):
    assert con.execute("select gap_band_excludes_zero($l, $h)", {"l": low, "h": high}).fetchone()[0] is significant


@pytest.mark.parametrize(("margin", "winner_low", "runner_up_high", "verdict"), [
    (260.0, 189.0, 151.0, "clear_winner"),  # bands apart
    (90.0, 39.0, 171.0, "likely_winner"),  # over 20, bands overlap
    (90.0, 171.0, 171.0, "likely_winner"),  # touching bands overlap
    (90.0, None, 171.0, "likely_winner"),  # a band unknown: never clear
    (20.0, 500.0, 0.0, "close_race"),  # the margin must be over 20, bands or not
    (None, None, None, None),  # no runner-up
])
def test_a_winner_is_clear_only_with_a_margin_over_the_limit_and_bands_apart(con, margin, winner_low,
                                                                              runner_up_high, verdict):
    got = con.execute("select sweep_verdict($m, $w, $r)", {"m": margin, "w": winner_low, "r": runner_up_high})
    assert got.fetchone()[0] == verdict


def test_the_margin_band_combines_the_two_half_widths(con):
    (half,) = con.execute("select margin_half_width(-50.0, 150.0, 0.0, 300.0)").fetchone()  # 100 and 150
    assert half == pytest.approx((100**2 + 150**2) ** 0.5)


def test_a_gap_reads_with_its_band_or_says_it_has_none():
    assert gap_with_band(38.2, -260.4, 336.0) == "+38 [−260, +336]"
    assert gap_with_band(-0.4, -100.0, 99.6) == "0 [−100, +100]"
    assert gap_with_band(33.0, None, None) == "+33 [no band: no TrueSkill sigma logged]"
    assert gap_with_band(None, 1.0, 2.0) is None


def test_a_learning_signal_always_says_whether_it_is_significant():
    row = {"learning_signal": "positive", "final_elo_gap": 38.0, "final_elo_gap_ci_low": -260.0,
           "final_elo_gap_ci_high": 336.0, "learning_signal_significant": False}
    assert learning_signal_text(row) == "positive (not significant: gap +38 [−260, +336])"
    row |= {"final_elo_gap": 257.0, "final_elo_gap_ci_low": 157.0, "final_elo_gap_ci_high": 358.0,
            "learning_signal_significant": True}
    assert learning_signal_text(row) == "positive (significant: gap +257 [+157, +358])"
    row |= {"final_elo_gap": -250.0, "final_elo_gap_ci_low": -361.0, "final_elo_gap_ci_high": -139.0}
    assert learning_signal_text(row) == "positive (significant, below base_model: gap −250 [−361, −139])"
    assert learning_signal_text({"learning_signal": "weak", "final_elo_gap": None}) == \
        "weak (not significant: no Elo gap)"
    assert learning_signal_text(None) is None


def test_a_sweep_verdict_reads_with_the_numbers_it_rests_on():
    sweep = {"verdict": "likely_winner", "winner_run_name": "s-A", "winner_elo_gap": 150.0,
             "winner_elo_gap_ci_low": 39.0, "winner_elo_gap_ci_high": 261.0, "runner_up_run_name": "s-B",
             "runner_up_elo_gap": 60.0, "runner_up_elo_gap_ci_low": -51.0, "runner_up_elo_gap_ci_high": 171.0,
             "margin": 90.0, "margin_ci_low": -67.0, "margin_ci_high": 247.0, "bands_overlap": True}
    assert sweep_verdict_text(sweep, {"s-A": "A", "s-B": "B"}) == (
        "likely winner: A, gap +150 [+39, +261], over B, gap +60 [−51, +171]: margin +90 [−67, +247], bands overlap")
    assert sweep_verdict_text({"verdict": None}) == "no verdict: fewer than two runs with an Elo gap"
