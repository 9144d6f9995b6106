"""The hand-written half of the experiment tracker: `notes.md` beside a sweep's `sweep.yaml`.

The tracker (lib/reports/tracker*.py) writes every field it can compute from the warehouse; what only a
person can say (key learnings, root cause, follow-up, and that the experiment is concluded) lives in this
file, which the pipeline reads on every build and never writes. Layout: Markdown with a level-2 heading per
field (case-insensitive), anything else ignored:

    ## Status
    concluded
    ## Key learnings
    ...
    ## Root cause
    ...
    ## Follow-up
    ...
"""

from __future__ import annotations

import re
from pathlib import Path

NOTES_FILE = "notes.md"
# heading (lowercased, hyphens and spaces folded) -> the field
FIELDS = {"status": "notes_status", "keylearnings": "key_learnings", "rootcause": "root_cause",
          "followup": "follow_up"}
_HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$")


def _field(heading: str) -> str | None:
    return FIELDS.get(re.sub(r"[\s_-]+", "", heading.lower()).rstrip(":"))


def parse_notes(text: str) -> dict[str, str | None]:
    """Each field's text (stripped; None when the file has no such section or it is empty). A status is its
    first word, lowercased (`concluded` is the one the tracker acts on)."""
    found: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            current = _field(heading.group(1))
            if current is not None:
                found.setdefault(current, [])
            continue
        if current is not None:
            found[current].append(line)
    notes = {field: ("\n".join(found.get(field, [])).strip() or None) for field in FIELDS.values()}
    if notes["notes_status"]:
        notes["notes_status"] = notes["notes_status"].split()[0].strip(".*_`").lower()
    return notes


def read_notes(definition: Path) -> dict[str, str | None]:
    """The notes beside a sweep.yaml, with `notes_path` (the file it would be, whether or not it exists:
    the tracker says where to write them). A notes file that is not UTF-8 text is a ValueError saying so (the
    definition is quarantined with it until the file is fixed)."""
    path = definition.parent / NOTES_FILE
    try:
        notes = parse_notes(path.read_text(encoding="utf-8")) if path.is_file() else parse_notes("")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{NOTES_FILE} beside it is not UTF-8 text ({exc}): save it as UTF-8") from exc
    return {"notes_path": str(path), **notes}
