"""Every `diplo …` command the analysis skill names (skills/experiment-analysis/SKILL.md and
skills/analyze-experiment.md) runs against the demo catalog: exit 0, valid JSON on stdout.

Placeholders are filled from the demo's planted runs: <RUN> the healthy run, <BASELINE_RUN> the baseline the
warehouse picked for it, <SWEEP> its sweep.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SKILL_FILES = (ROOT / "skills" / "experiment-analysis" / "SKILL.md", ROOT / "skills" / "analyze-experiment.md")
_FENCED = re.compile(r"^```[a-z]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_INLINE = re.compile(r"`(diplo [^`]+)`")


def skill_commands(text: str) -> list[str]:
    """The `diplo …` commands of a skill file: every line of a fenced block that starts with `diplo `, and
    every inline code span that does (the quick-reference table)."""
    fenced = [line.strip() for block in _FENCED.findall(text) for line in block.splitlines()
              if line.strip().startswith("diplo ")]
    return fenced + _INLINE.findall(_FENCED.sub("", text))


# The one command the skill names that writes instead of answering: the build that makes the catalog.
NOT_QUESTIONS = {"diplo build"}


def named_commands() -> list[str]:
    named = (c for path in SKILL_FILES for c in skill_commands(path.read_text()))
    return [c for c in dict.fromkeys(named) if c not in NOT_QUESTIONS]


def test_the_skill_files_name_commands_and_every_one_asks_for_json():
    commands = named_commands()
    assert len(commands) >= 20
    assert all("--format json" in command for command in commands), [c for c in commands if "--format json" not in c]
    named = {shlex.split(command)[1] for command in commands}
    assert {"runs", "run", "metrics", "elo", "compare", "findings", "sweep", "sql", "health", "errors",
            "rollout-timing", "extraction-stats", "inference-stats", "cache-stats", "report"} <= named


@pytest.fixture(scope="module")
def placeholders(demo):
    healthy = demo["plan"].run("healthy").name
    baseline = demo["con"].execute(
        "select baseline_run_name from run_baselines where run_name = ?", [healthy]
    ).fetchone()[0]
    sweep = demo["con"].execute("select min(sweep_name) from sweeps").fetchone()[0]
    return {"<RUN>": healthy, "<BASELINE_RUN>": baseline, "<SWEEP>": sweep}


@pytest.mark.parametrize("command", named_commands())
def test_every_skill_command_answers_in_json_on_the_demo(command, placeholders, diplo):
    for placeholder, value in placeholders.items():
        command = command.replace(placeholder, value)
    argv = shlex.split(command)
    assert argv[0] == "diplo"
    code, out, err = diplo(*argv[1:])
    assert code == 0, (command, err)
    answer = json.loads(out)
    assert answer not in ({}, [], None), command  # each names something the demo has
