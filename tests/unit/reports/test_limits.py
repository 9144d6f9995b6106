"""The reports draw and judge by the limits of thresholds.yml: move a limit there and the charts' reference
lines, their labels and the pages' fingerprint move with it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from diplo_pipeline.lib.reports import charts
from diplo_pipeline.lib.reports.output import inputs_digest, renderer_digest
from diplo_pipeline.lib.warehouse import thresholds
from diplo_pipeline.lib.warehouse.sql_project import SQL_ROOT

STEPS = [{"step": i, "kl": 0.02 + i / 1000, "grad_norm": 3.0, "extraction_rate": 0.97, "cache_hit_rate": 0.6,
          "kl_max": 2.0, "label": "A"} for i in range(30)]
# The project's limits and the values the test moves them to (none equal, so a line that stays is caught).
MOVED = {"kl_warn": (0.1, 0.07), "grad_norm_max": (50, 42), "extraction_rate_min": (0.95, 0.9),
         "cache_hit_target": (0.5, 0.4), "kl_max_limit": (10, 12), "error_rate_unhealthy": (0.05, 0.08)}


@pytest.fixture
def move_limits(tmp_path: Path, monkeypatch):
    """Point the thresholds loader at a copy of thresholds.yml whose limits are MOVED."""

    def move() -> None:
        spec = yaml.safe_load((SQL_ROOT / "thresholds.yml").read_text())
        for name, (_, moved) in MOVED.items():
            spec["limits"][name]["value"] = moved
        (tmp_path / "thresholds.yml").write_text(yaml.safe_dump(spec))
        read = thresholds._spec
        monkeypatch.setattr(thresholds, "_spec", lambda root: read(tmp_path))
        renderer_digest.cache_clear()

    yield move
    renderer_digest.cache_clear()  # computed again from the project's limits by whoever asks next


def rules(chart) -> set[tuple[float, str]]:
    """(value, label) of every reference line in a chart's Vega-Lite spec."""
    spec = charts.chart_spec(chart)
    return {(row["threshold"], row["label"]) for rows in spec["datasets"].values() for row in rows
            if "threshold" in row}


def lines_now() -> dict[str, set[tuple[float, str]]]:
    return {
        "kl": rules(charts.kl_chart(STEPS)),
        "grad_norm": rules(charts.grad_norm_chart(STEPS)),
        "extraction": rules(charts.extraction_chart(STEPS)),
        "cache": rules(charts.cache_hit_chart(STEPS)),
        "cache_hourly": rules(charts.hourly_cache_hit_chart([{"hour": "2025-12-27T09:00:00+00:00", "hit_rate": 0.6,
                                                              "queries": 10}])),
        "sweep_kl_max": rules(charts.sweep_metric_chart(STEPS, "kl_max", "KL max",
                                                        charts.limit_line("kl_max_limit", "unstable"))),
    }


def test_a_moved_limit_moves_the_reference_lines_and_their_labels(move_limits):
    assert lines_now() == {
        "kl": {(0.1, "0.1 warn")}, "grad_norm": {(50, "50 limit")}, "extraction": {(0.95, "0.95 target")},
        "cache": {(0.5, "0.5 target")}, "cache_hourly": {(0.5, "0.5 target")},
        "sweep_kl_max": {(10, "10 unstable")},
    }
    move_limits()
    assert lines_now() == {
        "kl": {(0.07, "0.07 warn")}, "grad_norm": {(42, "42 limit")}, "extraction": {(0.9, "0.9 target")},
        "cache": {(0.4, "0.4 target")}, "cache_hourly": {(0.4, "0.4 target")},
        "sweep_kl_max": {(12, "12 unstable")},
    }


def test_the_health_chart_scale_reaches_the_unhealthy_error_rate(move_limits):
    def domain() -> list[float]:
        hours = [{"hour": "2025-12-27T09:00:00+00:00", "status": "healthy", "events": 100, "error_events": 0,
                  "error_rate": 0.0}]
        return charts.chart_spec(charts.health_chart(hours))["layer"][1]["encoding"]["y"]["scale"]["domain"]

    assert domain() == [0, 0.05]
    move_limits()
    assert math.isclose(domain()[1], 0.08)


def test_a_moved_limit_renders_every_page_again(move_limits):
    """Pages are skipped while their inputs' fingerprint is unchanged: a limit is one of those inputs."""
    before = inputs_digest(["the same rows"])
    move_limits()
    assert inputs_digest(["the same rows"]) != before
