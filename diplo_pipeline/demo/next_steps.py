"""What `diplo demo` tells a new user to try once its build is done: commands that work as printed."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

from diplo_pipeline.demo.run_catalogue import build_plan
from diplo_pipeline.lib.settings import DataPaths, data_dir_from_env


def _shown(path: Path, cwd: Path) -> str:
    """A path as a person types it here: relative when it is inside the current folder, quoted for a shell."""
    return shlex.quote(str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path))


def demo_hints(paths: DataPaths, bin_dir: Path, cwd: Path) -> list[str]:
    """Commands that work as printed from `cwd`: the venv's duckdb and diplo by path (a venv is rarely on the
    PATH), the data folder named whenever a plain `diplo` here would not find it."""
    if (bin_dir / "diplo").exists():
        diplo = _shown(bin_dir / "diplo", cwd)
    else:  # not installed as a script: the module through this interpreter
        diplo = f"{_shown(bin_dir / Path(sys.executable).name, cwd)} -m diplo_pipeline.cli"
    if paths.data_dir != data_dir_from_env(cwd=cwd):
        diplo += f" --data-dir {_shown(paths.data_dir, cwd)}"
    duckdb_cli = _shown(bin_dir / "duckdb", cwd) if (bin_dir / "duckdb").exists() else shutil.which("duckdb")
    catalog, reports = _shown(paths.catalog, cwd), paths.reports
    if duckdb_cli:
        browse = f"{duckdb_cli} {catalog} -readonly -c " + shlex.quote("select run_name, state, last_step from runs")
    else:
        browse = f"{catalog} (no duckdb CLI found: `pip install duckdb-cli`, or use diplo sql)"
    pages = (f"{_shown(reports / 'runs', cwd)}/<run_name>.html (offline pages; `diplo report RUN` names the file), "
             f"{_shown(reports / 'nightly' / 'latest.html', cwd)}, {_shown(reports / 'tracker.md', cwd)}")
    return [
        f"  catalog:  {browse}",
        f"  CLI:      {diplo} sql " + shlex.quote("select * from run_steps limit 5"),
        f"            {diplo} elo {build_plan().run('healthy').name}   # the healthy run's league analysis",
        f"  lake:     {_shown(paths.lake, cwd)}",
        f"  reports:  {pages}",
        "  UI:       make dev  → http://127.0.0.1:3000",
    ]
