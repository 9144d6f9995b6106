"""Reports: the spike-keeping downsampler, valid chart specs, pages that fetch nothing and change only when their
inputs do, the report assets, and the healthy run's page rendered by a real headless Chromium."""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from diplo_pipeline.lib.reports import (
    Warehouse,
    charts,
    render_nightly_digest,
    render_run_reports,
    render_sweep_reports,
    render_tracker,
)
from diplo_pipeline.lib.reports.charts import downsample, extreme_indices, fit_curve
from diplo_pipeline.lib.reports.page_inputs import RunIndex, page_inputs, rows_fingerprints
from diplo_pipeline.lib.reports.run_data import load_run
from diplo_pipeline.lib.reports.run_page import key_chart_png, run_html
from diplo_pipeline.lib.reports.runs import RunPages
from tests.helpers.devtools import browser_problems, wait_for_charts

# --- The downsampler ------------------------------------------------------------------------------------


def test_a_planted_spike_survives_downsampling():
    rng = random.Random(7)
    values = [rng.gauss(3.0, 0.2) for _ in range(20_000)]
    values[13_337], values[4_242] = 180.0, -50.0  # one-step spikes, up and down

    kept = extreme_indices(values, max_points=400)

    assert 13_337 in kept and 4_242 in kept
    assert len(kept) <= 402 and kept == sorted(kept)
    assert kept[0] == 0 and kept[-1] == len(values) - 1  # the x range does not shrink


def test_the_min_and_max_of_every_bucket_are_kept():
    values = [math.sin(i / 37) * (1 + i % 7) for i in range(5_000)]
    max_points = 200
    kept = set(extreme_indices(values, max_points))
    buckets, n = max_points // 2, len(values)
    for b in range(buckets):
        bucket = range(b * n // buckets, (b + 1) * n // buckets)
        shown = [values[i] for i in bucket if i in kept]
        assert max(shown) == max(values[i] for i in bucket)
        assert min(shown) == min(values[i] for i in bucket)


def test_short_series_are_untouched_and_gaps_are_never_chosen():
    assert extreme_indices([1.0, None, 3.0], 10) == [0, 1, 2]
    values = [None if i % 3 == 0 else float(i % 11) for i in range(1, 3_000)] + [float("nan")]
    kept = extreme_indices(values, 100)
    assert all(isinstance(values[i], float) and math.isfinite(values[i]) for i in kept[:-1])


def test_downsampling_rows_keeps_the_extremes_of_every_field():
    rows = [{"step": i, "reward_mean": 1.0, "reward_std": 0.1} for i in range(3_000)]
    rows[1_234]["reward_std"] = 9.0  # a flat mean must not hide a spike in the spread
    shown = downsample(rows, ["reward_mean", "reward_std"], max_points=100)
    assert rows[1_234] in shown
    assert [r["step"] for r in shown] == sorted(r["step"] for r in shown)


# --- Chart specs ------------------------------------------------------------------------------------------


def _steps(n: int = 40) -> list[dict]:
    return [
        {"step": i, "loss": 0.01 * math.sin(i), "kl": 0.02 + i / 4000, "reward_mean": 2 + i / 20, "reward_std": 0.5,
         "grad_norm": 3.0 if i != 17 else 180.0, "trajectories_per_s": 10.0, "sim_years_per_s": 5.0,
         "extraction_rate": 0.99, "rollout_failed_count": float(i == 9), "cache_hit_rate": 0.6,
         "kl_max": 2.0, "label": "A: kl_beta=0" if i % 2 else "B: kl_beta=0.02"}
        for i in range(n)
    ]


def _hours() -> list[dict]:
    from datetime import UTC, datetime, timedelta

    start = datetime(2025, 12, 27, 9, tzinfo=UTC)
    return [
        {"hour": start + timedelta(hours=i), "status": "healthy" if i else "degraded", "rollouts": 5, "events": 100,
         "error_events": 2 * (i == 0), "error_rate": 0.02 * (i == 0), "hit_rate": 0.6, "queries": 1000}
        for i in range(6)
    ]


BUILDERS = {
    "loss": lambda: charts.loss_chart(_steps()),
    "kl": lambda: charts.kl_chart(_steps()),
    "reward": lambda: charts.reward_chart(_steps()),
    "grad_norm": lambda: charts.grad_norm_chart(_steps()),
    "throughput": lambda: charts.throughput_chart(_steps()),
    "extraction": lambda: charts.extraction_chart(_steps()),
    "cache": lambda: charts.cache_hit_chart(_steps()),
    "cache_hourly": lambda: charts.hourly_cache_hit_chart(_hours()),
    "failed_rollouts": lambda: charts.failed_rollouts_chart(_steps()),
    "rollout_status": lambda: charts.rollout_status_chart(_hours()),
    "ratings": lambda: charts.ratings_chart(
        [{"step": s, "agent": "base_model", "agent_kind": "baseline", "checkpoint_step": None, "elo": 1000 + s}
         for s in range(0, 40, 5)]
        + [{"step": s, "agent": "run/adapter_v10", "agent_kind": "checkpoint", "checkpoint_step": 10, "elo": 990 + s}
           for s in range(10, 40, 5)]
    ),
    "elo_gap": lambda: charts.elo_gap_chart(
        [{"step": s, "best_checkpoint": "run/adapter_v10", "elo_gap": s / 2, "elo_gap_ci_low": s / 2 - 50,
          "elo_gap_ci_high": s / 2 + 50} for s in range(10, 40)]
    ),
    "power_law": lambda: charts.power_law_chart(
        [{"series": "run", "x": 128.0 * k, "y": 0.5 * (128.0 * k) ** 0.3} for k in range(1, 50)],
        [{"model": "power_law", "params": {"a": 0.5, "b": 0.3}}], "fit",
    ),
    "sweep_metric": lambda: charts.sweep_metric_chart(_steps(), "kl", "KL", (0.1, "0.1 warn")),
    "sweep_ranking": lambda: charts.sweep_ranking_chart(
        [{"label": "C", "rank_by_elo_gap": 1, "final_elo_gap": 257.0, "final_elo_gap_ci_low": 157.0,
          "final_elo_gap_ci_high": 357.0, "is_winner": True},
         {"label": "A", "rank_by_elo_gap": 2, "final_elo_gap": 49.0, "is_winner": False}]  # no band logged
    ),
    "sweep_elo_gap": lambda: charts.sweep_elo_gap_chart(
        [{"label": label, "step": s, "elo_gap": s * k, "elo_gap_ci_low": s * k - 300 + 5 * s,
          "elo_gap_ci_high": s * k + 300 - 5 * s} for label, k in (("A", 1.0), ("C", 4.0)) for s in range(1, 50)]
        + [{"label": "B", "step": s, "elo_gap": -s, "elo_gap_ci_low": None, "elo_gap_ci_high": None}
           for s in range(1, 50)]
    ),
    "health": lambda: charts.health_chart(_hours()),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_chart_builder_makes_a_valid_vega_lite_spec(name):
    spec = charts.chart_spec(BUILDERS[name](), validate=True)  # Altair's full schema validation
    json.dumps(spec, allow_nan=False)  # and plain JSON: no NaN, no datetime objects
    assert "$schema" not in spec


def test_fit_curves_follow_their_model_and_give_up_on_unknown_ones():
    curve = fit_curve("power_law", {"a": 0.5, "b": 0.3}, 100.0, 10_000.0, n=5)
    assert [round(p["x"]) for p in curve] == [100, 316, 1000, 3162, 10000]
    assert all(math.isclose(p["y"], 0.5 * p["x"] ** 0.3) for p in curve)
    assert fit_curve("no_such_model", {}, 1.0, 10.0) == []
    assert fit_curve("sigmoid", {"a": 1.0}, 1.0, 10.0) == []  # parameters missing: no curve, no crash


# --- Pages from the demo warehouse -------------------------------------------------------------------------


RENDERERS = (render_run_reports, render_sweep_reports, render_nightly_digest, render_tracker)


def _render_all(wh: Warehouse, root: Path) -> list:
    outs = []
    for renderer in RENDERERS:
        out = renderer(wh, root)
        outs.append(out.out if isinstance(out, RunPages) else out)
    return outs


@pytest.fixture(scope="module")
def reports(demo_catalog, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("reports")
    wh = Warehouse(demo_catalog["con"])
    started = time.perf_counter()
    outs = _render_all(wh, root)
    return {"root": root, "wh": wh, "outs": outs, "seconds": time.perf_counter() - started}


@pytest.fixture(scope="module")
def healthy(demo_catalog) -> str:
    return demo_catalog["plan"].run("healthy").name


def test_every_report_is_written(reports, demo_catalog, healthy):
    root = reports["root"]
    names = [r.name for r in demo_catalog["plan"].runs.values()]
    for name in names:
        assert (root / "runs" / f"{name}.html").exists() and (root / "runs" / f"{name}.md").exists()
    assert (root / "runs" / f"{healthy}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (root / "sweeps" / "stability-ablation.html").exists()
    assert (root / "nightly" / "2025-12-27.html").read_bytes() == (root / "nightly" / "latest.html").read_bytes()
    tracker = (root / "tracker.md").read_text()
    assert all(f"## {name}\n" in tracker for name in names)


def test_rendering_twice_rewrites_nothing(reports):
    files = sorted(p for p in reports["root"].rglob("*") if p.is_file())
    before = {p: p.stat().st_mtime_ns for p in files}
    outs = _render_all(reports["wh"], reports["root"])
    assert [p for out in outs for p in out.written] == []
    assert {p: p.stat().st_mtime_ns for p in files} == before


def test_pages_render_byte_for_byte_the_same_from_the_same_inputs(reports, healthy):
    """Without the fingerprint shortcut, too: nothing in a page depends on the clock or on chance."""
    wh = reports["wh"]
    index = RunIndex.of(wh)
    run = next(r for r in index.runs if r["run_name"] == healthy)
    data = load_run(wh, run, index.pages[run["run_id"]], index.sweep_page(run))
    assert run_html(reports["wh"], data) == run_html(reports["wh"], data)
    assert key_chart_png(data) == (reports["root"] / "runs" / f"{healthy}.png").read_bytes()


def test_a_page_whose_inputs_changed_is_rewritten_alone(reports, healthy):
    page = reports["root"] / "runs" / f"{healthy}.html"
    meta = 'name="diplo-report-inputs" content="'
    page.write_text(page.read_text().replace(meta, meta + "0"))
    pages = render_run_reports(reports["wh"], reports["root"])
    assert pages.out.written == [page]  # its .md and .png came out identical, so they were left alone
    assert [d.name for d in pages.rendered] == [healthy]  # and no other run was read


def test_pages_fetch_nothing(reports):
    pages = sorted(reports["root"].rglob("*.html"))
    assert pages
    for page in pages:
        html = page.read_text()
        for fetch in ("<script src", "<link", 'src="http', "src='http", 'href="http', "url(http", "@import"):
            assert fetch not in html, f"{page.name} fetches: {fetch}"
        specs_start = html.index('<script type="application/json" id="chart-specs">')
        specs = json.loads(html[html.index(">", specs_start) + 1 : html.index("</script>", specs_start)])
        assert specs and '"url"' not in json.dumps(specs)  # every dataset is inline
        assert html.count("<script") == 3  # the Vega bundle once, the specs, the embedding


def test_missing_python_marts_are_reported_not_fatal(demo_catalog, tmp_path, healthy):
    wh = Warehouse(demo_catalog["con"])
    wh.tables -= {"findings", "power_law_fits"}  # as before the analytics assets first run
    render_run_reports(wh, tmp_path)
    assert "The findings table has not been built yet" in (tmp_path / "runs" / f"{healthy}.html").read_text()
    render_tracker(wh, tmp_path)
    assert "findings not computed yet" in (tmp_path / "tracker.md").read_text()


def test_pages_of_runs_gone_from_the_warehouse_are_removed_and_only_then(reports, demo_catalog, tmp_path):
    wh = Warehouse(demo_catalog["con"])
    # the current pages of every run (so none is rendered again), and the page of a run that is gone
    shutil.copytree(reports["root"] / "runs", tmp_path / "runs", copy_function=shutil.copy2)
    gone = tmp_path / "runs" / "a-run-that-was-deleted.html"
    gone.write_text("old page")
    wh.tables.discard("runs")  # the table not built yet: no run is known to be gone
    render_run_reports(wh, tmp_path)
    assert gone.exists()
    wh.tables.add("runs")
    pages = render_run_reports(wh, tmp_path)
    assert pages.out.removed == [gone] and not gone.exists()
    assert pages.rendered == []


def test_the_nightly_digest_covers_the_day_before_the_newest_data(reports, healthy):
    page = (reports["root"] / "nightly" / "latest.html").read_text()
    assert "Nightly digest 2025-12-27" in page
    assert "counted back from the newest data, not from the clock" in page
    assert healthy in page and "started, finished" in page


def test_the_tracker_reads_like_the_researchers_template(reports, healthy):
    tracker = (reports["root"] / "tracker.md").read_text()
    entry = tracker.split(f"## {healthy}\n", 1)[1].split("\n## ", 1)[0]
    for heading in ("**Hypothesis:**", "**Config changes:**", "**Status:**", "**Results:**", "**Issues:**"):
        assert heading in entry
    assert "Learning signal: positive" in entry
    assert "Reward start → peak → final:" in entry
    assert "none (no warn or error finding)" in entry


def test_the_report_assets_materialise_with_readable_metadata(demo_catalog, healthy):
    from diplo_pipeline.defs.reports.assets import (
        experiment_tracker,
        nightly_digest,
        run_reports,
        sweep_reports,
    )
    from diplo_pipeline.defs.resources import DiploData

    assets = [run_reports, sweep_reports, nightly_digest, experiment_tracker]
    diplo = DiploData(data_dir=str(demo_catalog["paths"].data_dir))
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(assets, resources={"diplo": diplo}, instance=instance)
    assert result.success
    runs = result.asset_materializations_for_node("reports__run_reports")[0].metadata
    assert runs["pages_written"].value + runs["pages_unchanged"].value == 38  # 13 pages + 13 .md + 12 .png
    preview = runs["newest_run"].value
    assert healthy in preview and "](data:image/png;base64," in preview and "full report](file://" in preview
    tracker = result.asset_materializations_for_node("reports__experiment_tracker")[0].metadata
    assert tracker["entries"].value == len(demo_catalog["plan"].runs)


# --- A real browser ---------------------------------------------------------------------------------------


def test_the_healthy_run_report_renders_its_charts_in_chromium(reports, healthy, browser):
    page = reports["root"] / "runs" / f"{healthy}.html"
    session = browser.open(page.as_uri())
    state = wait_for_charts(browser, session)
    assert state["charts"] >= 9, state  # loss, KL, reward, grad norm, throughput, extraction, rollouts, cache, ...
    assert state["failed"] == 0 and state["drawn"] == state["charts"], state
    assert browser_problems(browser.events) == []


def test_an_axiom_event_attributed_to_a_run_later_makes_that_runs_page_stale_alone(demo_catalog):
    """A run's page computes its operating-target hours from the events attributed to it: an event that
    arrives (or is attributed) after the page was written changes that run's inputs and no other run's."""
    con = duckdb.connect()
    con.execute(f"attach '{demo_catalog['paths'].catalog}' as demo (read_only); use demo")
    before_wh = Warehouse(con)
    index = RunIndex.of(before_wh)
    before = page_inputs(before_wh, index, rows_fingerprints(before_wh)).digests
    run = index.runs[-1]
    con.execute("create temp table late as select 'late-event' as event_id, "
                "timestamptz '2025-12-27 10:00:00+00' as event_time, 'inference_timing_breakdown' as event, "
                "$name::varchar as run_name, 'time_window' as attribution", {"name": run["run_name"]})
    # a temp view shadows the catalog's for this connection only
    con.execute("create temp view int_axiom__event_runs as "
                "select * from demo.main.int_axiom__event_runs union all by name select * from late")
    after_wh = Warehouse(con)
    after = page_inputs(after_wh, index, rows_fingerprints(after_wh)).digests
    assert [r for r in before if before[r] != after[r]] == [run["run_id"]]
    con.close()
