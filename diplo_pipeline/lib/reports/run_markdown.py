"""`runs/<run_name>.md`: one run's report as Markdown, for a repository, a chat or a terminal."""

from __future__ import annotations

import json

from diplo_pipeline.lib.reports.data import Warehouse, parse_json
from diplo_pipeline.lib.reports.markdown import code_block, md_code, md_table, md_text
from diplo_pipeline.lib.reports.run_data import RunData
from diplo_pipeline.lib.reports.run_summary import CONFIG_FIELDS, METRIC_COLUMNS, headline, metric_summary
from diplo_pipeline.lib.reports.shared import findings_md, fits_md
from diplo_pipeline.lib.reports.targets import targets_md
from diplo_pipeline.lib.reports.text import MISSING, fmt_time


def _columns(*keys: str) -> list[tuple[str, str]]:
    """Columns headed by their own key."""
    return [(key, key) for key in keys]


def run_markdown(wh: Warehouse, data: RunData, has_png: bool) -> str:
    run = data.run
    config = parse_json(run.get("config")) or {}
    identity = (
        f"Run {md_code(run['run_id'])} · {md_text(run.get('run_kind') or MISSING)} · {md_text(run.get('state'))} · "
        f"started {fmt_time(run.get('created_at'))} · [interactive report]({data.page}.html)"
    )
    lines = [f"# Run {md_text(data.name)}", "", identity, ""]
    if has_png:
        lines += [f"![Reward and Elo gap]({data.page}.png)", ""]
    lines += [
        "## At a glance", "",
        md_table([{"what": label, "value": value} for label, value, _ in headline(data)], _columns("what", "value")),
        "", "## Findings", "", findings_md(wh, data.findings),
        "", "## Configuration", "",
        md_table([{"setting": f, "value": run.get(f)} for f in CONFIG_FIELDS], _columns("setting", "value")),
        "", "<details><summary>Whole configuration</summary>", "",
        code_block(json.dumps(config, indent=2, sort_keys=True, default=str), "json"), "", "</details>",
        "", "## Training dynamics", "",
        md_table(metric_summary(data.steps), _columns(*METRIC_COLUMNS)),
        "", "## Rollout reliability (Axiom)", "",
        md_table(data.rollout_status, _columns("status", "rollouts", "p50_s", "p95_s", "max_s", "with_error")),
        "", "## Extraction by power (Axiom, the run's days)", "",
        md_table(data.extraction_by_power, _columns("power_name", "extraction_rate", "orders_expected",
                                                    "orders_extracted", "responses", "empty", "partial")),
        "", "## Operating targets (Axiom, the run's events by hour)", "",
        targets_md(data.targets, "No Axiom events are attributed to this run."),
        "", "## Ratings", "",
        md_table(data.agents, _columns("agent", "agent_kind", "initial_elo", "peak_elo", "peak_step", "final_elo",
                                       "change", "trend")),
        "", "## Evaluations", "",
        md_table(data.evaluations, _columns("kind", "checkpoint", "evaluation_step", "opponent", "games", "win_rate",
                                            "avg_score", "floor", "passed")),
    ]
    if data.replays or data.artifacts:
        replays = [{**r, "file": r["local_path"] or r["file_path"]} for r in data.replays]
        lines += ["", "## Replays and artifacts", "",
                  md_table(replays, _columns("opponent", "replay_name", "step", "file")),
                  "", md_table(data.artifacts, _columns("what", "kind", "item_name", "version_or_digest", "items"))]
    if data.fits:
        lines += ["", "## Scaling", "", fits_md(data.fits)]
    return "\n".join(lines) + "\n"
