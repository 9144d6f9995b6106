"""Writing report files so that a page changes only when what it shows changes."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from diplo_pipeline.lib.warehouse.analyses import ANALYSES
from diplo_pipeline.lib.warehouse.thresholds import load_limits

DIGEST_META = "diplo-report-inputs"  # <meta name=...> in each page: the fingerprint it was rendered from
_DIGEST_IN_PAGE = re.compile(rf'<meta name="{DIGEST_META}" content="([0-9a-f]+)"')


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.cache
def renderer_digest() -> str:
    """Fingerprint of what draws reports: their code, their queries, the limits they draw and judge by, and
    the charting libraries. A change to any of them re-renders every page."""
    sources = sorted(Path(__file__).resolve().parent.rglob("*.py"))  # the pages, their names and the charts
    queries = sorted((ANALYSES / "reports").glob("*.sql")) + sorted((ANALYSES.parent / "macros").glob("*.sql"))
    limits = json.dumps({name: entry.value for name, entry in load_limits().items()}, sort_keys=True)
    parts = [p.read_bytes() for p in sources + queries] + [limits.encode()]
    parts += [version(name).encode() for name in ("altair", "vl-convert-python")]
    return _digest(b"\0".join(parts))


def inputs_digest(inputs: Any) -> str:
    """Fingerprint of what a page shows (its rows, JSON-serialised) and of the renderer."""
    payload = json.dumps(inputs, sort_keys=True, default=str).encode()
    return _digest(payload + renderer_digest().encode())


def stored_digest(page: Path) -> str | None:
    """The inputs fingerprint a page was rendered from, read from its head."""
    if not page.exists():
        return None
    with page.open("rb") as handle:
        match = _DIGEST_IN_PAGE.search(handle.read(4096).decode(errors="replace"))
    return match.group(1) if match else None


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write atomically unless the file already holds exactly this content; True when written.

    Leaving unchanged files alone keeps their mtime, so file watchers, rsync and people see no change
    when a rebuild found nothing new.
    """
    if path.exists() and _digest(path.read_bytes()) == _digest(data):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; reports are meant to be read and shared
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return True


@dataclass
class PagesWritten:
    """What one rendering did, for the asset's metadata."""

    root: Path
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)

    def put(self, path: Path, content: str | bytes) -> Path:
        data = content.encode() if isinstance(content, str) else content
        (self.written if write_if_changed(path, data) else self.unchanged).append(path)
        return path

    def is_current(self, page: Path, digest: str, companions: Sequence[Path] = ()) -> bool:
        """True (and counted unchanged) when `page` was rendered from these inputs and its companions exist:
        then nothing needs rendering at all, which is what keeps a rebuild with no new data cheap."""
        if stored_digest(page) != digest or not all(p.exists() for p in companions):
            return False
        self.unchanged += [page, *companions]
        return True

    @property
    def paths(self) -> list[Path]:
        return self.written + self.unchanged

    def remove_stale(self, folder: Path, suffixes: tuple[str, ...]) -> None:
        """Delete report files in `folder` that this rendering did not produce (their run or sweep is gone)."""
        current = set(self.paths)
        for path in sorted(folder.glob("*")) if folder.exists() else []:
            if path.suffix in suffixes and path not in current:
                path.unlink()
                self.removed.append(path)
