"""Scaling-law fits: hand-made series with known answers (diplo_pipeline/lib/analytics/fits/), and the demo's planted
power laws (plan.POWER_LAW_RUNS) found in `power_law_fits` after a real build.
"""

from __future__ import annotations

import dagster as dg
import duckdb
import numpy as np
import pyarrow as pa
import pytest

from diplo_pipeline.defs.analytics.power_law import power_law_fits_without_flags
from diplo_pipeline.defs.resources import DiploData
from diplo_pipeline.demo import plan as planted
from diplo_pipeline.lib.analytics.fits import Fit, fit_series
from diplo_pipeline.lib.analytics.fits.mart import SCHEMA, fit_rows
from diplo_pipeline.lib.analytics.fits.scopes import METRIC, X_METRIC, Scope, Series, load_series, scopes_of
from diplo_pipeline.lib.lake.io import write_parquet_atomic
from diplo_pipeline.lib.warehouse.sql_project import load_macros
from diplo_pipeline.lib.warehouse.sql_runner import python_mart_path


def by_model(fits: list[Fit]) -> dict[str, Fit]:
    return {fit.model: fit for fit in fits}


def inside(fit: Fit, value: float) -> bool:
    return fit.exponent_ci_low <= value <= fit.exponent_ci_high


# --- hand-made series ------------------------------------------------------------------------------------


def test_power_law_exponent_recovered_within_its_interval():
    rng = np.random.default_rng(7)
    x = np.geomspace(10, 1e4, 80)
    y = 0.5 * x**0.3 * np.exp(rng.normal(0, 0.03, x.size))
    fit = by_model(fit_series(x, y))["power_law"]
    assert inside(fit, 0.3) and abs(fit.exponent - 0.3) < 0.02
    assert fit.params["a"] == pytest.approx(0.5, rel=0.1)
    assert fit.converged and fit.r2 > 0.95 and fit.flags == []
    assert fit.n_points == 80 and fit.x_decades == pytest.approx(3.0)
    assert fit.params["bootstrap_unit"] == "point"
    assert fit.holdout_log_error < 0.05  # the noise is 3 %: extrapolating the true law costs about that


def test_offset_power_law_recovers_alpha_and_floor():
    rng = np.random.default_rng(11)
    x = np.geomspace(10, 1e4, 50)
    y = (0.5 + 5.0 * x**-0.4) * np.exp(rng.normal(0, 0.01, x.size))
    fit = by_model(fit_series(x, y))["offset_power_law"]
    assert inside(fit, 0.4) and abs(fit.exponent - 0.4) < 0.03
    assert fit.params["e"] == pytest.approx(0.5, abs=0.05)
    assert fit.params["fit_space"] == "log" and fit.params["starts_agree"]
    assert fit.converged and fit.flags == []


def test_sigmoid_recovers_its_efficiency_exponent():
    rng = np.random.default_rng(3)
    x = np.geomspace(10, 1e5, 60)
    y = 0.5 + (4.0 - 0.5) / (1 + (1000 / x) ** 1.5) + rng.normal(0, 0.02, x.size)
    fit = by_model(fit_series(x, y))["sigmoid"]
    assert inside(fit, 1.5) and abs(fit.exponent - 1.5) < 0.1
    assert fit.params["c_mid"] == pytest.approx(1000, rel=0.1)
    assert fit.params["a"] == pytest.approx(4.0, abs=0.05)
    assert fit.params["r0"] == pytest.approx(0.5, abs=0.05)
    assert fit.flags == []


def test_negative_rewards_are_dropped_by_the_pure_power_law_and_counted():
    rng = np.random.default_rng(5)
    x = np.geomspace(10, 1e4, 60)
    y = -2.0 + 0.8 * x**0.25 + rng.normal(0, 0.05, x.size)
    nonpositive = int((y <= 0).sum())
    assert nonpositive > 0
    fits = by_model(fit_series(x, y))
    pure = fits["power_law"]
    assert pure.params["dropped_nonpositive"] == nonpositive and "dropped_nonpositive" in pure.flags
    assert pure.n_points == x.size - nonpositive
    # The offset form keeps every point, in linear space: y = e + a·x^(−alpha) with e = −2, alpha = −0.25.
    offset = fits["offset_power_law"]
    assert offset.n_points == x.size and offset.params["fit_space"] == "linear"
    assert inside(offset, -0.25) and offset.params["e"] == pytest.approx(-2.0, abs=0.2)


def test_few_points_over_a_narrow_range_are_flagged_on_every_model():
    rng = np.random.default_rng(1)
    x = np.linspace(100, 500, 8)  # 0.7 decades
    for fit in fit_series(x, 2.0 * x**0.2 * np.exp(rng.normal(0, 0.02, x.size))):
        assert {"few_points", "narrow_range"} <= set(fit.flags), fit.model


def test_a_series_without_trend_has_an_exponent_interval_including_zero():
    rng = np.random.default_rng(2)
    x = np.geomspace(10, 1e4, 40)
    fit = by_model(fit_series(x, 3.0 * np.exp(rng.normal(0, 0.05, x.size))))["power_law"]
    assert fit.exponent_ci_low < 0 < fit.exponent_ci_high and "exponent_ci_includes_zero" in fit.flags


def test_too_few_usable_points_give_no_fit():
    fit = by_model(fit_series([10.0, 100.0, 1000.0], [-1.0, 2.0, -3.0]))["power_law"]
    assert fit.exponent is None and not fit.converged and fit.n_points == 1
    assert {"dropped_nonpositive", "few_points", "not_converged"} <= set(fit.flags)


def test_group_scopes_resample_whole_runs():
    rng = np.random.default_rng(9)
    xs, ys, runs = [], [], []
    for run, exponent in enumerate((0.28, 0.30, 0.33)):
        x = np.arange(1, 41) * 128.0
        xs.append(x)
        ys.append(0.5 * x**exponent * np.exp(rng.normal(0, 0.03, x.size)))
        runs.append(np.full(x.size, run))
    fit = by_model(fit_series(np.concatenate(xs), np.concatenate(ys), np.concatenate(runs)))["power_law"]
    assert fit.params["bootstrap_unit"] == "run" and fit.n_runs == 3
    # Resampling runs, the interval spans the spread between runs, not the (much smaller) noise within one.
    assert fit.exponent_ci_high - fit.exponent_ci_low > 0.02 and inside(fit, 0.30)
    two_runs = fit_series(np.concatenate(xs[:2]), np.concatenate(ys[:2]), np.concatenate(runs[:2]))
    assert all("few_runs" in f.flags for f in two_runs)


def test_fits_are_deterministic():
    rng = np.random.default_rng(4)
    x = np.geomspace(10, 1e4, 50)
    y = 1.0 + 3.0 * x**-0.3 * np.exp(rng.normal(0, 0.02, x.size))
    assert fit_series(x, y) == fit_series(x, y)


def test_the_check_warns_about_a_flagged_group_fit(tmp_path):
    rng = np.random.default_rng(6)
    x = np.linspace(100, 300, 8)
    flagged = fit_series(x, x**0.3 * np.exp(rng.normal(0, 0.02, x.size)))
    rows = fit_rows(Scope("tag", "tiny-sweep", ("aaaaaaaa",)), flagged)
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    write_parquet_atomic(table, python_mart_path(tmp_path / "lake", "power_law_fits"))
    result = power_law_fits_without_flags(diplo=DiploData(data_dir=str(tmp_path)))
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["flagged_fits"].value == 1
    listed = result.metadata["flagged"].value
    assert "tiny-sweep" in listed and "narrow_range" in listed


# --- points and scopes of the asset ---------------------------------------------------------------------


def test_points_pair_the_keys_of_one_row_and_the_later_write_wins():
    con = duckdb.connect()
    for statement in load_macros():  # the pairing is the project's macro metric_pairs
        con.execute(statement)
    con.execute(
        "create table metric_points "
        "(run_id varchar, step bigint, write_seq bigint, row_kind varchar, key varchar, value double)"
    )
    logged = [
        (0, 0, "train", 128.0, 1.0),
        (1, 1, "train", 256.0, 1.1),
        (1, 5, "train", 256.0, 1.2),  # step 1 re-logged after a resume: the later write wins
        (3, 3, "eval", 512.0, 9.9),  # not a training row
        (4, 6, "train", 0.0, 1.3),  # no compute yet: no logarithm
    ]
    for step, seq, kind, x, y in logged:
        con.execute("insert into metric_points values ('r', ?, ?, ?, ?, ?), ('r', ?, ?, ?, ?, ?)",
                    [step, seq, kind, X_METRIC, x, step, seq, kind, METRIC, y])
    # Step 2 logged x and y in two different rows: never paired.
    con.execute("insert into metric_points values ('r', 2, 2, 'train', ?, 384), ('r', 2, 4, 'train', ?, 9.9)",
                [X_METRIC, METRIC])
    series = load_series(con)
    assert series["r"].x.tolist() == [128.0, 256.0] and series["r"].y.tolist() == [1.0, 1.2]


def test_scopes_are_runs_shared_tags_the_power_laws_family_and_sweeps():
    points = Series(np.arange(1.0, 11.0), np.ones(10))
    series = {run: points for run in "abcd"} | {"short": Series(np.arange(1.0, 4.0), np.ones(3))}
    runs = [
        ("a", ["benchmark", "power-laws-baseline"], None),
        ("b", ["benchmark", "power-laws-deep"], None),
        ("c", ["solo"], "ablation"),
        ("d", [], "ablation"),
        ("short", ["solo", "benchmark"], "ablation"),  # too few points for any scope
    ]
    found = {(s.scope, s.scope_id): s.run_ids for s in scopes_of(series, runs)}
    assert found == {
        ("tag", "benchmark"): ("a", "b"),
        ("tag", "power-laws"): ("a", "b"),
        ("sweep", "ablation"): ("c", "d"),
        **{("run", r): (r,) for r in "abcd"},
    }


# --- the demo's planted power laws, after a real build ---------------------------------------------------


@pytest.fixture(scope="module")
def demo(demo_catalog):
    relation = demo_catalog["con"].sql("select * from power_law_fits")
    fits = [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
    return {"fits": fits, "plan": demo_catalog["plan"], "report": demo_catalog["report"]}


def fit_of(demo, scope: str, scope_id: str, model: str = "power_law") -> dict:
    (row,) = [f for f in demo["fits"] if (f["scope"], f["scope_id"], f["model"]) == (scope, scope_id, model)]
    return row


@pytest.mark.parametrize("key", list(planted.POWER_LAW_RUNS))
def test_each_planted_run_exponent_is_recovered_within_its_interval(demo, key):
    exponent = planted.POWER_LAW_RUNS[key].exponent
    fit = fit_of(demo, "run", demo["plan"].run(key).run_id)
    assert fit["exponent_ci_low"] <= exponent <= fit["exponent_ci_high"]
    assert fit["exponent"] == pytest.approx(exponent, abs=0.03)
    assert fit["n_points"] == planted.POWER_LAW_STEPS and fit["flags"] == []


def test_the_legacy_power_law_sweep_is_one_tag_group(demo):
    fit = fit_of(demo, "tag", "power-laws")
    planted_ids = sorted(demo["plan"].run(key).run_id for key in planted.POWER_LAW_RUNS)
    assert fit["n_points"] == len(planted.POWER_LAW_RUNS) * planted.POWER_LAW_STEPS == 300
    assert sorted(fit["run_ids"]) == planted_ids and fit["n_runs"] == 3
    exponents = [law.exponent for law in planted.POWER_LAW_RUNS.values()]
    assert fit["exponent_ci_low"] <= min(exponents) and max(exponents) <= fit["exponent_ci_high"]
    assert '"bootstrap_unit": "run"' in fit["params"]


def test_a_re_logged_step_is_one_point(demo):
    resumed = demo["plan"].run(planted.RESUME.run_key)
    assert fit_of(demo, "run", resumed.run_id)["n_points"] == planted.RESUME.last_step + 1


def test_one_row_per_scope_and_model_and_the_check_ran(demo):
    keys = [(f["scope"], f["scope_id"], f["metric"], f["model"]) for f in demo["fits"]]
    assert len(keys) == len(set(keys))
    assert {f["model"] for f in demo["fits"]} == {"power_law", "offset_power_law", "sigmoid"}
    assert ("sweep", planted.SWEEP.name) in {(f["scope"], f["scope_id"]) for f in demo["fits"]}
    check = demo["report"].check_metadata["marts/power_law_fits:power_law_fits_without_flags"]
    assert check["flagged_fits"] == 0
