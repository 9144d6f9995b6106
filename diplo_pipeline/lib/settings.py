"""Where things live (WAREHOUSE.md "Where things live"), resolved from the environment once per call."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from diplo_pipeline.lib.lake.object_store import ObjectPath, lake_url_from_env

SOURCE_VARIABLES = ("DIPLO_WANDB_DIR", "DIPLO_AXIOM_DIR", "DIPLO_SWEEP_DIR")


def _paths(value: str | None, default: Path) -> tuple[Path, ...]:
    if not value:
        return (default,)
    return tuple(Path(p).expanduser().resolve() for p in value.split(":") if p)


def user_cache_dir() -> Path:
    """Where derived files that any checkout can rebuild are kept between runs (the Vega bundle, the SQL
    models' output columns): `$XDG_CACHE_HOME/diplo-pipeline`, default `~/.cache/diplo-pipeline`."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "diplo-pipeline"


def data_dir_from_env(data_dir: str | Path | None = None, cwd: Path | None = None) -> Path:
    """`data_dir`, else $DIPLO_DATA_DIR, else ./data; relative to `cwd` (default: the current folder)."""
    chosen = Path(data_dir or os.environ.get("DIPLO_DATA_DIR") or "data").expanduser()
    return ((cwd or Path.cwd()) / chosen).resolve()


@dataclass(frozen=True)
class DataPaths:
    data_dir: Path
    wandb_dirs: tuple[Path, ...]
    axiom_dirs: tuple[Path, ...]
    sweep_dir: Path
    # The source variables the user set (from_env); the other source folders are the defaults. A folder the
    # user named that does not exist is an error, a missing default only a warning (lib/source_folders.py).
    explicit: frozenset[str] = field(default=frozenset(), compare=False)
    # DIPLO_LAKE_URL (s3://bucket/prefix): the lake, its state, the quarantine and the published catalog live
    # in that bucket (lib/lake/object_store.py); the inboxes, reports and the build's own copy of the catalog
    # stay under the data root. None: everything under the data root, as always.
    lake_url: str | None = None

    @classmethod
    def from_env(
        cls,
        data_dir: str | Path | None = None,
        *,
        wandb_dir: str | None = None,
        axiom_dir: str | None = None,
        sweep_dir: str | None = None,
    ) -> DataPaths:
        """Each folder as given (`wandb_dir` and `axiom_dir` may list several, `:`-separated), else from its
        variable, else its default under the data root."""
        root = data_dir_from_env(data_dir)
        given = {"DIPLO_WANDB_DIR": wandb_dir, "DIPLO_AXIOM_DIR": axiom_dir, "DIPLO_SWEEP_DIR": sweep_dir}
        chosen = {name: value or os.environ.get(name) for name, value in given.items()}
        return cls(
            data_dir=root,
            wandb_dirs=_paths(chosen["DIPLO_WANDB_DIR"], root / "inbox" / "wandb"),
            axiom_dirs=_paths(chosen["DIPLO_AXIOM_DIR"], root / "inbox" / "axiom"),
            sweep_dir=Path(chosen["DIPLO_SWEEP_DIR"] or root / "inbox" / "sweeps").expanduser().resolve(),
            explicit=frozenset(name for name in SOURCE_VARIABLES if chosen[name]),
            lake_url=lake_url_from_env(),
        )

    @property
    def store_root(self) -> Path | ObjectPath:
        """Where the lake, quarantine and published catalog live: the data root, or the bucket's prefix."""
        return ObjectPath(self.lake_url) if self.lake_url else self.data_dir

    @property
    def lake(self) -> Path | ObjectPath:
        return self.store_root / "lake"

    @property
    def raw(self) -> Path | ObjectPath:
        return self.lake / "raw"

    @property
    def state(self) -> Path | ObjectPath:
        """Bookkeeping of what has been ingested (fingerprints), beside the data it describes."""
        return self.lake / "_state"

    @property
    def host_state(self) -> Path | ObjectPath:
        """Bookkeeping of what this host's own outputs (its reports, its copy of the catalog) were built from.
        With the lake in a bucket that is the data root's `_state/`: each host builds its own, and a host that
        finds the shared tables up to date still builds its reports. Else the lake's state, as always."""
        return self.data_dir / "_state" if self.lake_url else self.state

    @property
    def quarantine(self) -> Path | ObjectPath:
        return self.store_root / "quarantine"

    @property
    def catalog(self) -> Path:
        """The catalog the build writes (always a local file: DuckDB writes a database on a disk)."""
        return self.data_dir / "warehouse.duckdb"

    @property
    def published_catalog(self) -> Path | ObjectPath:
        """The catalog readers open: the build's file, or, with the lake in a bucket, its published copy there
        (lib/warehouse/catalog_publish.py)."""
        return self.store_root / "warehouse.duckdb" if self.lake_url else self.catalog

    @property
    def reports(self) -> Path:
        return self.data_dir / "reports"


def running_idle_seconds() -> float:
    """A run with no exit record whose files have not changed for this long is `crashed`, else `running`."""
    return float(os.environ.get("DIPLO_RUNNING_IDLE_S", "900"))
