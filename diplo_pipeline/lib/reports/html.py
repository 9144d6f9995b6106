"""Self-contained HTML pages: the Vega JavaScript inlined once per page, every chart's spec beside it.

A page must open from a file, offline, years later: no `<script src>`, no stylesheet or font links, no
`$schema` URL, and vega-embed's action links (which go to the online editor) switched off. Pages hold
nothing that changes from one build to the next unless the data did (no build time), so an unchanged
page is byte-identical and is not rewritten.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from importlib.metadata import version
from typing import Any

import altair as alt
import vl_convert

from diplo_pipeline.lib.lake.io import write_text_atomic
from diplo_pipeline.lib.reports.charts.common import chart_spec
from diplo_pipeline.lib.reports.output import DIGEST_META
from diplo_pipeline.lib.reports.text import fmt
from diplo_pipeline.lib.settings import user_cache_dir

CSS = """
:root { --ink: #1d2733; --muted: #5f6b7a; --line: #dde3ea; --bg: #f6f8fa; --ok: #2e7d32; --warn: #b26a00;
        --bad: #c62828; --info: #1565c0; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); background: var(--bg); }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 20px 32px 12px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .sub { color: var(--muted); }
nav { margin-top: 10px; font-size: 13px; }
nav a { margin-right: 14px; color: var(--info); text-decoration: none; }
main { max-width: 1240px; margin: 0 auto; padding: 8px 32px 48px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 14px 20px;
          margin: 16px 0; }
section h2 { font-size: 17px; margin: 2px 0 10px; }
p.note { color: var(--muted); margin: 6px 0; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 150px; background: #fff; }
.card .label { color: var(--muted); font-size: 12px; }
.card .value { font-size: 17px; font-weight: 600; }
.tone-ok .value { color: var(--ok); } .tone-warn .value { color: var(--warn); }
.tone-bad .value { color: var(--bad); } .tone-info .value { color: var(--info); }
.grid { display: flex; flex-wrap: wrap; gap: 18px 28px; }
figure.chart { margin: 6px 0; min-height: 60px; }
.chart-error { color: var(--bad); }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px 4px 0; text-align: left; vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.sev { font-weight: 600; text-transform: uppercase; font-size: 11px; }
.sev-error { color: var(--bad); } .sev-warn { color: var(--warn); } .sev-info { color: var(--info); }
details pre { background: var(--bg); padding: 10px; overflow: auto; max-height: 420px; font-size: 12px; }
a { color: var(--info); }
"""

# Renders each chart into its figure; a chart that fails says so in place (and in the console).
EMBED_SCRIPT = """
const specs = JSON.parse(document.getElementById("chart-specs").textContent);
for (const [id, spec] of Object.entries(specs)) {
  vegaEmbed("#" + id, spec, {actions: false, renderer: "svg"}).catch((error) => {
    const figure = document.getElementById(id);
    figure.classList.add("chart-error");
    figure.textContent = "This chart failed to render: " + error;
    console.error(error);
  });
}
"""


@functools.cache
def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script (about 0.9 MB), built by vl-convert.

    The Vega-Lite version is the one Altair writes specs for, so specs and library always agree. Building
    it takes vl-convert ~1.5 s, paid by every process that renders a page (each `diplo build`), so it is
    kept in the user's cache folder, keyed on both versions; a cache that cannot be written is skipped.
    """
    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    vl_version = f"v{major}_{minor}"
    cached = user_cache_dir() / f"vega-bundle-{vl_version}-vl-convert-{version('vl-convert-python')}.js"
    if cached.exists():
        return cached.read_text(encoding="utf-8")
    bundle = vl_convert.javascript_bundle(vl_version=vl_version)
    with contextlib.suppress(OSError):
        write_text_atomic(bundle, cached)
    return bundle


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _script_json(value: Any) -> str:
    # `<` escaped so that no text inside a spec (a run name, a message) can close the script element.
    return json.dumps(value, sort_keys=True, separators=(",", ":")).replace("<", "\\u003c")


# --- Blocks ----------------------------------------------------------------------------------------


def note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def paragraph(html_text: str) -> str:
    return f"<p>{html_text}</p>"


def link(href: str, text: str) -> str:
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def cards(items: Sequence[tuple[str, Any, str]]) -> str:
    """Headline numbers: (label, value, tone) with tone one of ok, warn, bad, info or ''."""
    out = []
    for label, value, tone in items:
        out.append(
            f'<div class="card tone-{tone}"><div class="label">{escape(label)}</div>'
            f'<div class="value">{escape(fmt(value))}</div></div>'
        )
    return f'<div class="cards">{"".join(out)}</div>'


def grid(*figures: str) -> str:
    return f'<div class="grid">{"".join(figures)}</div>'


Cell = Callable[[dict[str, Any]], str]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str | Cell]], empty: str = "none") -> str:
    """An HTML table. Each column is (heading, key) or (heading, function of the row returning HTML).

    A column whose values are all numbers (blanks aside) is right-aligned, blanks included.
    """
    if not rows:
        return note(empty)
    numeric = {
        key for _, key in columns
        if not callable(key) and all(_is_number(r.get(key)) for r in rows if r.get(key) is not None)
    }
    head = "".join(f"<th>{escape(heading)}</th>" for heading, _ in columns)
    body = []
    for row in rows:
        cells = []
        for _, source in columns:
            if callable(source):
                cells.append(f"<td>{source(row)}</td>")
            else:
                align = " class=num" if source in numeric else ""
                cells.append(f"<td{align}>{escape(fmt(row.get(source)))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def severity(row: dict[str, Any]) -> str:
    level = str(row.get("severity") or "")
    return f'<span class="sev sev-{escape(level)}">{escape(level)}</span>'


def details(summary: str, text: str) -> str:
    return f"<details><summary>{escape(summary)}</summary><pre>{escape(text)}</pre></details>"


# --- Page --------------------------------------------------------------------------------------------


@dataclass
class Page:
    title: str
    subtitle: str = ""
    digest: str = ""  # fingerprint of the page's inputs (output.inputs_digest), kept in its head
    sections: list[tuple[str, str, str]] = field(default_factory=list)  # (anchor, title, html)
    specs: dict[str, dict] = field(default_factory=dict)

    def chart(self, name: str, chart: alt.TopLevelMixin) -> str:
        """Register a chart and return the figure that it renders into."""
        chart_id = f"chart-{slug(name)}"
        self.specs[chart_id] = chart_spec(chart)
        return f'<figure class="chart"><div id="{chart_id}"></div></figure>'

    def section(self, title: str, *blocks: str) -> None:
        self.sections.append((slug(title), title, "".join(blocks)))

    def render(self) -> str:
        nav = "".join(link(f"#{anchor}", title) for anchor, title, _ in self.sections)
        body = "".join(
            f'<section id="{anchor}"><h2>{escape(title)}</h2>{content}</section>'
            for anchor, title, content in self.sections
        )
        # The bundle is only needed (and only inlined) when the page has a chart.
        scripts = (
            f"<script>{vega_bundle()}</script>"
            f'<script type="application/json" id="chart-specs">{_script_json(self.specs)}</script>'
            f"<script>{EMBED_SCRIPT}</script>"
            if self.specs
            else ""
        )
        return (
            "<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><title>{escape(self.title)}</title>'
            f'<meta name="{DIGEST_META}" content="{self.digest}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{CSS}</style></head><body>"
            f"<header><h1>{escape(self.title)}</h1><div class=sub>{self.subtitle}</div><nav>{nav}</nav></header>"
            f"<main>{body}</main>"
            "<noscript>The charts on this page need JavaScript (it is inlined; nothing is fetched).</noscript>"
            f"{scripts}</body></html>\n"
        )
