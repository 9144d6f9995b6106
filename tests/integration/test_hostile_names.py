"""Names and texts from runs and sweep files that are hostile to file systems, Markdown, HTML and the terminal.

One small warehouse, built by the real pipeline from runs the real WandB SDK wrote offline: two runs whose
names sanitise to the same `a_b` (`a'b`, `a"b`), one whose name is rich markup with a `/` in it, one whose
name is an HTML tag with a script handler, notes and a config value full of Markdown and HTML, and a
sweep.yaml whose hypothesis holds a `<script>` and a `|`.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import dagster as dg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from diplo_pipeline import cli
from diplo_pipeline.build import build
from diplo_pipeline.definitions import defs
from diplo_pipeline.demo.sdk import run_in_subprocess
from diplo_pipeline.lib.reports.markdown import md_code, md_table, md_text
from diplo_pipeline.lib.reports.names import CLEAN, MAX_STEM, file_name, run_page_names, sweep_page_names
from diplo_pipeline.lib.settings import DataPaths
from tests.helpers import sdk_runs
from tests.helpers.devtools import browser_problems, wait_for_charts
from tests.helpers.files import set_mtime

SCRIPT = "<script>window.pwned = 1</script>"
HYPOTHESIS = f"{SCRIPT} a | b `tick` *not bold* <img src=x onerror=\"window.pwned = 2\">"
NOTES = "`code` *emphasis* [link](http://x) | cell <b>bold</b> & more"
HOSTILE_CONFIG = "``` closes a fence? </details> | <script>x</script>"
RUNS = {  # run_id -> (display name, options)
    "quot0001": ("a'b", {"tags": ["hostile-A"], "notes": NOTES, "config": {"prompt": HOSTILE_CONFIG}}),
    "dquo0001": ('a"b', {"tags": ["hostile-B"], "start": sdk_runs.START + 3600}),
    "mark0001": ("[/bold] [red]x[/red]", {"start": sdk_runs.START + 7200}),
    "html0001": ('<img src=x onerror="window.pwned = 3">', {"start": sdk_runs.START + 10800}),
}
SWEEP_YAML = f"""\
metadata:
  name: hostile
  experiment_tag_prefix: hostile
  hypothesis: {json.dumps(HYPOTHESIS)}
runs:
  A: {{name: a, config: {{learning_rate: 1.0e-5}}}}
  B: {{name: b, config: {{learning_rate: 1.0e-6}}}}
analysis:
  expected_ranking: [A, B]
"""
MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    inbox = root / "inbox"
    for run_id, (name, options) in RUNS.items():
        run_in_subprocess(sdk_runs.simple_run, str(inbox / "wandb"), run_id, name, 6, options)
    set_mtime(inbox / "wandb", sdk_runs.START + 86400)
    (inbox / "sweeps" / "hostile").mkdir(parents=True)
    (inbox / "sweeps" / "hostile" / "sweep.yaml").write_text(SWEEP_YAML)
    paths = DataPaths(root / "data", (inbox / "wandb",), (inbox / "axiom",), inbox / "sweeps")
    (inbox / "axiom").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in (("DIPLO_DATA_DIR", paths.data_dir), ("DIPLO_WANDB_DIR", inbox / "wandb"),
                            ("DIPLO_AXIOM_DIR", inbox / "axiom"), ("DIPLO_SWEEP_DIR", inbox / "sweeps")):
            mp.setenv(name, str(value))
        with dg.DagsterInstance.ephemeral() as instance:
            report = build(defs(), instance, paths)
    assert report.failed_steps == [], report.failed_steps
    return paths


@pytest.fixture
def diplo(hostile, monkeypatch, capsys):
    monkeypatch.setenv("DIPLO_DATA_DIR", str(hostile.data_dir))

    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _report_of(diplo, run_id: str) -> dict:
    code, out, err = diplo("report", run_id, "--format", "json")
    assert code == 0, err
    return json.loads(out)


# --- file names ------------------------------------------------------------------------------------------


def test_names_that_sanitise_alike_get_their_own_report_files(hostile, diplo):
    answers = {run_id: _report_of(diplo, run_id) for run_id in RUNS}
    pages = {run_id: answer["html"] for run_id, answer in answers.items()}
    assert len(set(pages.values())) == len(RUNS)  # a'b and a"b no longer overwrite each other
    written = sorted(p.name for p in (hostile.reports / "runs").glob("*.html"))
    assert sorted(p.rsplit("/", 1)[1] for p in pages.values()) == written
    for answer in answers.values():
        assert answer["html_exists"] and answer["markdown_exists"]
        stem = answer["html"].rsplit("/", 1)[1].removesuffix(".html")
        assert CLEAN.fullmatch(stem)
        assert stem.startswith(("a_b-", "bold_red_x_red-", "img_src_x_onerror_window.pwned_3-"))
    # The page of a'b is the page of a'b: its title names it.
    assert "<h1>Run a&#x27;b</h1>" in Path(pages["quot0001"]).read_text()
    assert "<h1>Run a&quot;b</h1>" in Path(pages["dquo0001"]).read_text()


def test_diplo_report_prints_the_path_the_asset_wrote(hostile, diplo):
    code, out, _ = diplo("report", "a'b")
    path = _report_of(diplo, "quot0001")["html"]
    assert code == 0 and path in out and (hostile.reports / "runs" / path.rsplit("/", 1)[1]).exists()


def test_clean_names_keep_their_file_names():
    for name in ("grpo-20251227-091408", "stability-ablation-A-20251226-124256", "eval-x_v150.2"):
        assert file_name(name) == name


@given(st.text(max_size=300), st.text(max_size=300))
def test_file_names_are_safe_and_distinct(first, second):
    for name in (first, second):
        stem = file_name(name)
        assert CLEAN.fullmatch(stem) and len(stem) <= MAX_STEM + 11 and "/" not in stem
        assert file_name(name) == stem  # deterministic
    if first != second:
        assert file_name(first) != file_name(second)


def test_names_differing_only_in_case_get_files_that_differ_in_more_than_case():
    pages = run_page_names([{"run_id": "r1", "run_name": "GRPO-1"}, {"run_id": "r2", "run_name": "grpo-1"},
                            {"run_id": "r3", "run_name": "grpo-2"}])
    assert pages == {"r1": "GRPO-1-r1", "r2": "grpo-1-r2", "r3": "grpo-2"}
    sweeps = sweep_page_names(["Ablation", "ablation", "other"])
    assert sweeps["other"] == "other" and sweeps["Ablation"].lower() != sweeps["ablation"].lower()


# --- Markdown ---------------------------------------------------------------------------------------------


def _as_read(text: str) -> str:
    """What a Markdown reader shows of a text written on one line: its words; CommonMark shows NUL as U+FFFD."""
    return " ".join(text.split()).replace("\x00", "\ufffd")


def _inline_text(children) -> tuple[set[str], str]:
    return {t.type for t in children}, "".join(t.content for t in children)


def _headings(markdown: str) -> list[str]:
    tokens = MARKDOWN.parse(markdown)
    texts = []
    for opening, inline in itertools.pairwise(tokens):
        if opening.type == "heading_open":
            kinds, text = _inline_text(inline.children)
            assert kinds == {"text"}, (text, kinds)  # a heading is the name as written, no markup in it
            texts.append(text)
    return texts


def test_tracker_shows_hostile_texts_as_text(hostile):
    tracker = (hostile.reports / "tracker.md").read_text()
    html = MARKDOWN.render(tracker)
    assert SCRIPT not in tracker and "<img" not in tracker  # raw HTML only ever inside a code span (literal)
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    headings = _headings(tracker)[1:]
    assert [h for h in headings if h.startswith("Sweep ")] == ["Sweep hostile"]  # the sweep definition's entry
    assert sorted(h for h in headings if not h.startswith("Sweep ")) == sorted(name for name, _ in RUNS.values())
    # The sweep's hypothesis (for the member without notes) and the notes read as the words they are.
    assert "(sweep hostile) &lt;script&gt;window.pwned = 1&lt;/script&gt; a | b `tick` *not bold*" in html
    assert "`code` *emphasis* [link](http://x) | cell &lt;b&gt;bold&lt;/b&gt; &amp; more" in html
    # A config value with backticks stays inside its code span.
    assert f"<code>prompt: {HOSTILE_CONFIG.replace('<', '&lt;').replace('>', '&gt;')} → unset</code>" in html


def test_run_markdown_keeps_hostile_config_inside_its_code_block(diplo):
    page = Path(_report_of(diplo, "quot0001")["markdown"]).read_text()
    html = MARKDOWN.render(page)
    assert _headings(page)[0] == "Run a'b"
    assert "<script" not in html and "</details>" in html
    block = next(t for t in MARKDOWN.parse(page) if t.type == "fence")
    assert json.loads(block.content)["prompt"] == HOSTILE_CONFIG  # the fence held: the whole JSON is in it


@given(st.text(max_size=200))
def test_md_text_reads_back_as_exactly_its_text(text):
    kinds, shown = _inline_text(MARKDOWN.parseInline(md_text(text))[0].children)
    assert shown == _as_read(text) and kinds <= {"text"}


@given(st.text(max_size=100))
def test_md_code_is_one_code_span_holding_the_text(text):
    collapsed = _as_read(text)
    children = MARKDOWN.parseInline(f"x {md_code(text)}")[0].children
    if collapsed:  # (an empty code span is never written)
        assert [(t.type, t.content) for t in children] == [("text", "x "), ("code_inline", collapsed)]


@given(st.text(min_size=1, max_size=100).filter(lambda t: t.strip()))
def test_a_markdown_table_cell_holds_its_whole_text(text):
    tokens = MARKDOWN.parse(md_table([{"v": text, "w": "next"}], [("v", "v"), ("w", "w")]))
    cells = [inline for opening, inline in itertools.pairwise(tokens) if opening.type == "td_open"]
    assert [_inline_text(c.children)[1] for c in cells] == [_as_read(text), "next"]


# --- HTML, in a real browser --------------------------------------------------------------------------


def test_planted_scripts_do_not_run_in_the_html_reports(hostile, diplo, browser):  # noqa: F811
    pages = [hostile.reports / "sweeps" / "hostile.html", _report_of(diplo, "html0001")["html"]]
    for page in pages:
        session = browser.open(f"file://{page}")
        state = wait_for_charts(browser, session)
        assert state["failed"] == 0, state
        assert browser.evaluate(session, "typeof window.pwned") == "undefined"
        assert browser.evaluate(session, "document.querySelectorAll('img').length") == 0
        text = browser.evaluate(session, "document.body.innerText")
        assert (SCRIPT in text) if "sweeps" in str(page) else ('<img src=x onerror="window.pwned = 3">' in text)
    # (Vega warns about the ranking chart of a sweep without Elo ratings: not what this test is about.)
    assert [p for p in browser_problems(browser.events) if not p.startswith("console.warning")] == []


# --- the terminal ---------------------------------------------------------------------------------------


def test_a_run_name_in_rich_markup_prints_literally(hostile, diplo):
    markup = "[/bold] [red]x[/red]"
    code, out, err = diplo("runs")
    assert code == 0 and markup in out and "Traceback" not in err
    code, out, err = diplo("sql", "select run_name from runs order by run_name")
    assert code == 0 and markup in out
    code, out, err = diplo("run", markup)
    assert code == 0 and re.search(r"run_name\s+\[/bold\] \[red\]x\[/red\]", out)
