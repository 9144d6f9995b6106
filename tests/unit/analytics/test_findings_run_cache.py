"""The findings mart's per-run cache: a run whose inputs are unchanged keeps its rows, only the others are
computed again, and the table is exactly the one computing every run writes."""

from __future__ import annotations

import json

import polars as pl

from diplo_pipeline.lib.analytics.findings import INPUTS, find_all, ordered
from diplo_pipeline.lib.analytics.findings.run_cache import cached_findings, record


def test_only_the_changed_run_is_computed_and_the_table_is_the_full_one(demo_catalog, tmp_path):
    steps, runs, agents, baselines = (demo_catalog["con"].sql(f"select * from {name}").pl() for name in INPUTS)
    full = find_all(steps, runs, agents, baselines=baselines)
    flagged = sorted(set(full["run_id"]))
    assert len(flagged) > 2  # the demo plants findings in several runs: rows to keep and to recompute
    changed = flagged[1]
    previous, state = tmp_path / "findings.parquet", tmp_path / "findings_runs.json"
    # the last build: every run computed from fingerprint "v1", and the changed run's rows stale in the table
    full.filter(pl.col("run_id") != changed).write_parquet(previous)
    record(dict.fromkeys(runs["run_id"], "v1"), state)
    asked: list[list[str]] = []

    def compute(run_ids: list[str]) -> pl.DataFrame:
        asked.append(run_ids)
        keep = pl.col("run_id").is_in(run_ids)
        return find_all(steps.filter(keep), runs.filter(keep), agents.filter(keep), baselines=baselines.filter(keep))

    now = dict.fromkeys(runs["run_id"], "v1") | {changed: "v2"}
    table, computed = cached_findings(now, previous, state, compute, ordered)
    assert asked == [[changed]] and computed == [changed]
    assert table.equals(full)
    record(now, state)
    assert json.loads(state.read_text())[changed] == "v2"

    # a run gone from the sources: its rows go, nothing is computed
    del now[flagged[0]]
    full.write_parquet(previous)
    table, computed = cached_findings(now, previous, state, compute, ordered)
    assert computed == [] and asked == [[changed]]
    assert table.equals(full.filter(pl.col("run_id") != flagged[0]))


def test_without_a_previous_table_every_run_is_computed(tmp_path):
    runs = pl.DataFrame({"run_id": ["a", "b"]})
    asked = []
    table, computed = cached_findings(
        {"a": "1", "b": "1"}, tmp_path / "none.parquet", tmp_path / "state.json",
        lambda ids: asked.append(ids) or runs.filter(pl.col("run_id").is_in(ids)), lambda t: t.sort("run_id"),
    )
    assert asked == [["a", "b"]] and computed == ["a", "b"] and table["run_id"].to_list() == ["a", "b"]
