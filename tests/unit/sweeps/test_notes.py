"""The hand-written tracker fields: notes.md beside a sweep.yaml, read and never written (lib/sweeps/notes.py)."""

from __future__ import annotations

import json

import pytest

from diplo_pipeline.lib.sweeps.definitions import read_definitions
from diplo_pipeline.lib.sweeps.notes import parse_notes

SWEEP = "metadata: {name: tiny, experiment_tag_prefix: tiny}\nruns: {A: {name: a, config: {kl_beta: 0.0}}}\n"


def test_each_section_is_read_by_its_heading_whatever_its_spelling():
    notes = parse_notes(
        "# my notes\nintro, ignored\n\n## Key Learnings\n- one\n- two\n\n## root-cause:\nKL exploded.\n"
        "## Something else\nignored too\n## Follow up\nRerun with clipping.\n## Status\n**Concluded** on 12-28\n"
    )
    assert notes == {"key_learnings": "- one\n- two", "root_cause": "KL exploded.",
                     "follow_up": "Rerun with clipping.", "notes_status": "concluded"}


def test_no_notes_is_no_fields():
    assert parse_notes("") == dict.fromkeys(("notes_status", "key_learnings", "root_cause", "follow_up"))


def test_the_definition_row_carries_the_notes_and_the_file_is_left_as_written(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "sweep.yaml").write_text(SWEEP)
    notes = "## Root cause\nThe reward was hacked.\n"
    (folder / "notes.md").write_text(notes)
    before = (folder / "notes.md").stat().st_mtime_ns
    table, bad = read_definitions(tmp_path)
    row = table.to_pylist()[0]
    assert bad == [] and row["root_cause"] == "The reward was hacked." and row["key_learnings"] is None
    assert row["notes_path"] == str(folder / "notes.md")
    assert json.loads(row["runs"])["A"]["config"] == {"kl_beta": 0.0}
    assert (folder / "notes.md").read_text() == notes and (folder / "notes.md").stat().st_mtime_ns == before


def test_a_sweep_without_notes_says_where_they_would_go(tmp_path):
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "sweep.yaml").write_text(SWEEP)
    row = read_definitions(tmp_path)[0].to_pylist()[0]
    assert row["notes_path"] == str(tmp_path / "tiny" / "notes.md") and row["follow_up"] is None


@pytest.mark.parametrize("raw", [b"\xff\xfe not utf-8 \x80"])
def test_notes_that_are_not_text_quarantine_the_definition_with_the_reason(tmp_path, raw):
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "sweep.yaml").write_text(SWEEP)
    (tmp_path / "tiny" / "notes.md").write_bytes(raw)
    table, bad = read_definitions(tmp_path)
    assert table.num_rows == 0 and len(bad) == 1 and "notes.md beside it is not UTF-8 text" in bad[0].reason
