"""Source folders that are missing or hold no input, named with the variable that sets them.

A build whose inboxes are empty would otherwise succeed with "0 runs found" and leave a new user guessing.
A default folder that is missing or empty is a warning (a fresh checkout has empty inboxes; someone using
only the live sources has no offline folders at all, so then its default is not mentioned). A folder the user
named in a variable that does not exist is an error: the build stops before anything is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from diplo_pipeline.lib.axiom.export_files import discover_exports
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.wandb.run_tables import discover_runs


def _has_sweeps(folder: Path) -> bool:
    return folder.is_file() or any(folder.rglob("sweep.yaml"))


@dataclass(frozen=True)
class Source:
    variable: str
    what: str  # what the folder should hold, as a person would say it
    has_input: Callable[[Path], bool]


WANDB = Source("DIPLO_WANDB_DIR", "WandB runs (run-<id>.wandb files)", lambda p: bool(discover_runs([p])))
AXIOM = Source("DIPLO_AXIOM_DIR", "Axiom export files (.ndjson, .jsonl, .json, .csv, optionally .gz)",
               lambda p: bool(discover_exports([p])))
SWEEPS = Source("DIPLO_SWEEP_DIR", "sweep definitions (sweep.yaml)", _has_sweeps)


@dataclass(frozen=True)
class FolderProblem:
    source: Source
    folder: Path
    missing: bool  # False: it exists but holds nothing the source reads
    explicit: bool  # the user named it in the variable

    @property
    def is_error(self) -> bool:
        return self.missing and self.explicit

    @property
    def message(self) -> str:
        variable, what = self.source.variable, self.source.what
        if self.is_error:
            return (f"{self.folder} does not exist, but {variable} names it: fix {variable} (or create the "
                    f"folder) and build again")
        found = f"{self.folder} does not exist" if self.missing else f"{self.folder} holds no {what}"
        if self.explicit:
            return f"{found} ({variable} names it)"
        return f"{found}: it is the default; set {variable} to the folder that holds your {what}"


def folder_problems(paths: DataPaths, live_wandb: bool = False, live_axiom: bool = False,
                    look_inside: bool = True) -> list[FolderProblem]:
    """Every configured source folder that is missing or (look_inside) holds no input."""
    configured = [(WANDB, folder, live_wandb) for folder in paths.wandb_dirs]
    configured += [(AXIOM, folder, live_axiom) for folder in paths.axiom_dirs]
    configured += [(SWEEPS, paths.sweep_dir, False)]
    problems = []
    for source, folder, live in configured:
        explicit = source.variable in paths.explicit
        if not explicit and live:
            continue  # the live source feeds this; an absent default offline folder is expected
        if not folder.exists():
            problems.append(FolderProblem(source, folder, True, explicit))
        elif look_inside and not source.has_input(folder):
            problems.append(FolderProblem(source, folder, False, explicit))
    return problems


class SourceFolderMissing(Exception):
    """A source folder the user named does not exist: nothing is built."""

    def __init__(self, problems: list[FolderProblem]):
        super().__init__("\n".join(p.message for p in problems))
        self.problems = problems


def require_named_folders(problems: list[FolderProblem]) -> list[FolderProblem]:
    """The problems that are only warnings; raises SourceFolderMissing when a folder the user named is missing."""
    errors = [p for p in problems if p.is_error]
    if errors:
        raise SourceFolderMissing(errors)
    return problems
