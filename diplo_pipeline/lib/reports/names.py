"""Where each report lives: a file name for every run and sweep that is safe and its own, whatever the name.

WandB display names and sweep names may hold '/', quotes, spaces, dots, markup or nothing at all. A name
of letters, digits, '.', '_' and '-' that starts with a letter or digit is its own file name, so
`grpo-20251227-091408` stays `runs/grpo-20251227-091408.html`. Any other name keeps its readable part and
gains a short hash of the whole name, so `a'b` and `a"b` (both `a_b` once sanitised) get files of their own.
Kept apart from `lib/reports/` so that `diplo report` can name a page without importing the renderers.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

CLEAN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_STEM = 120  # well under the 255 bytes a file name may have, with room for the hash and suffix


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def file_name(name: str) -> str:
    """The file name (without suffix) of a run or sweep name: no path separator, no leading dot or dash, no
    shell-special character, bounded length; distinct names give distinct file names."""
    if CLEAN.fullmatch(name) and len(name) <= MAX_STEM:
        return name
    readable = UNSAFE.sub("_", name).strip("._-")[:MAX_STEM].rstrip("._-") or "unnamed"
    return f"{readable}-{_digest(name)}"


def _shared(stems: Iterable[str]) -> set[str]:
    """Stems that two items would share on a file system that ignores case (macOS, Windows) or not."""
    counts = Counter(stem.lower() for stem in stems)
    return {stem for stem, n in counts.items() if n > 1}


def run_page_names(runs: Sequence[dict[str, Any]]) -> dict[str, str]:
    """run_id -> report file name: the run name's, plus the run id where two runs would share a file (the
    same display name, or names that differ only in case)."""
    stems = {run["run_id"]: file_name(str(run["run_name"] or "")) for run in runs}
    shared = _shared(stems.values())
    return {
        run["run_id"]: file_name(f"{run['run_name'] or ''}-{run['run_id']}") if stems[run["run_id"]].lower() in shared
        else stems[run["run_id"]]
        for run in runs
    }


def sweep_page_names(sweep_names: Iterable[str]) -> dict[str, str]:
    """sweep_name -> report file name; two names differing only in case each get their hash."""
    stems = {name: file_name(name) for name in sweep_names}
    shared = _shared(stems.values())
    return {name: f"{stem}-{_digest(name)}" if stem.lower() in shared else stem for name, stem in stems.items()}


def run_report_files(reports: Path, page: str) -> dict[str, Path]:
    """The files of one run's report under the reports folder (WAREHOUSE.md "Reports")."""
    folder = reports / "runs"
    return {suffix: folder / f"{page}.{suffix}" for suffix in ("html", "md", "png")}
