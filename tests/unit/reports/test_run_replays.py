"""The run report's Replays and artifacts section, on the demo's standalone evaluation run (its HTML replays
and eval-replays artifact, written by the real SDK), and its absence from a run that logged none."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from diplo_pipeline.demo.planted_experiments import STANDALONE_EVAL
from diplo_pipeline.lib.reports import Warehouse
from diplo_pipeline.lib.reports.run_data import load_run
from diplo_pipeline.lib.reports.run_markdown import run_markdown
from diplo_pipeline.lib.reports.run_page import run_html


def _page(demo, key: str):
    wh = Warehouse(demo["con"])
    run_id = demo["plan"].run(key).run_id
    (run,) = [r for r in wh.rows("runs", needs=("runs",)) if r["run_id"] == run_id]
    data = load_run(wh, run, run["run_name"])
    return wh, data


def test_the_evaluation_page_links_each_html_replay_to_its_file_on_disk(demo_catalog):
    wh, data = _page(demo_catalog, "evaluation")
    html = run_html(wh, data)
    assert "Replays and artifacts" in html
    links = re.findall(r'<a href="(file://[^"]+)">([^<]+)</a>', html)
    html_replays = {name: unquote(urlparse(url).path) for url, name in links if name.startswith("replay_vs_")}
    expected = sorted(f"replay_vs_{o}" for o in STANDALONE_EVAL.results)
    assert sorted(n.rsplit("_", 2)[0] for n in html_replays) == expected
    for name, path in html_replays.items():
        opponent = name.removeprefix("replay_vs_").rsplit("_", 2)[0]
        assert Path(path).is_file() and f"vs {opponent}</h1>" in Path(path).read_text()
    # The artifact and the logged table are listed too, and the Markdown version names the same replays.
    assert f"eval-replays-adapter_v{STANDALONE_EVAL.checkpoint_step}" in html and "eval/summary_table" in html
    markdown = run_markdown(wh, data, has_png=False)
    assert "## Replays and artifacts" in markdown and all(Path(p).name in markdown for p in html_replays.values())


def test_a_run_without_replays_or_artifacts_has_no_such_section(demo_catalog):
    wh, data = _page(demo_catalog, "healthy")
    assert data.replays == [] and data.artifacts == []
    assert "Replays and artifacts" not in run_html(wh, data)
