"""DAGSTER_HOME's dagster.yaml: the embedded SQLite instance by default, PostgreSQL when DAGSTER_PG_* say so.

The embedded default is what it always was (SQLite files under DAGSTER_HOME, nothing to set up). When the
variables of WAREHOUSE.md name a PostgreSQL server, the runs, event logs and schedules (Dagster's
`storage: postgres:` block, i.e. its run, event-log and schedule storage) live there instead, so the webserver,
the daemon and `diplo build` on any machine share one instance. The file names the variables (`env:`), never
their values: the password stays in the environment. The concurrency pools get their limit here too
(`concurrency: pools: default_limit`, from thresholds.yml): with several runs at once, each pool's heavy steps
(`pool=` on the ingestion assets and the SQL layer, defs/pools.py) take turns instead of starving each other.

A dagster.yaml this module wrote is rewritten when the variables change (switching to PostgreSQL and back);
one the user wrote is theirs and left alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from diplo_pipeline.lib.lake.io import write_text_atomic

MARKER = "# Written by diplo-pipeline"
URL_VARIABLE = "DAGSTER_PG_URL"
# The settings of `postgres_db` (dagster-postgres) and the variable each is read from.
DB_VARIABLES = {"hostname": "DAGSTER_PG_HOST", "port": "DAGSTER_PG_PORT", "db_name": "DAGSTER_PG_DB",
                "username": "DAGSTER_PG_USER", "password": "DAGSTER_PG_PASSWORD"}
REQUIRED = ("DAGSTER_PG_HOST", "DAGSTER_PG_DB", "DAGSTER_PG_USER")  # the port defaults to 5432, the password to ""
# The driver the URL names. SQLAlchemy 2.1 reads a bare `postgresql://` as psycopg 3, which is not installed:
# dagster-postgres brings psycopg2 (psycopg2-binary), so the scheme says so.
SCHEME = "postgresql+psycopg2"
PG_VARIABLES = (URL_VARIABLE, *DB_VARIABLES.values())
# What `make demo`/`make dev` wrote before this module existed: it is ours to rewrite as well.
LEGACY_EMBEDDED = "telemetry:\n  enabled: false\n"

EMBEDDED = f"""\
{MARKER} on first use. Runs, partitions and sensor cursors persist here.
telemetry:
  enabled: false
"""


class PostgresSettingsIncomplete(ValueError):
    """Some DAGSTER_PG_* variables are set but not enough to reach a server."""


def pool_slots() -> int:
    """How many steps of one pool run at once across all runs (thresholds.yml `dagster_pool_slots`)."""
    from diplo_pipeline.lib.warehouse.thresholds import limit

    return int(limit("dagster_pool_slots"))


def postgres_yaml(environ: Mapping[str, str], slots: int | None = None) -> str:
    """The instance on PostgreSQL, every setting read from its variable at load time. With DAGSTER_PG_URL set
    the URL is used; otherwise the variables set (port and password may be left to their defaults)."""
    if environ.get(URL_VARIABLE):
        scheme = environ[URL_VARIABLE].partition("://")[0]
        if scheme != SCHEME:
            raise PostgresSettingsIncomplete(
                f"{URL_VARIABLE} must start with {SCHEME}:// (the driver installed with dagster-postgres), "
                f"not {scheme}://: postgresql+psycopg2://USER:PASSWORD@HOST:PORT/DB"
            )
        connection = f"    postgres_url:\n      env: {URL_VARIABLE}\n"
    else:
        missing = [name for name in REQUIRED if not environ.get(name)]
        if missing:
            raise PostgresSettingsIncomplete(
                f"DAGSTER_PG_* is partly set: also set {', '.join(missing)} (or DAGSTER_PG_URL), or unset them "
                "all to keep the embedded SQLite instance"
            )
        settings = "".join(f"      {key}:\n        env: {name}\n" for key, name in DB_VARIABLES.items()
                           if name in REQUIRED or environ.get(name))
        connection = "    postgres_db:\n" + settings + f"      scheme: {SCHEME}\n"
    return (
        f"{MARKER} from the DAGSTER_PG_* variables: runs, event logs and schedules in PostgreSQL.\n"
        "# The values stay in the environment; change the variables, not this file.\n"
        "storage:\n"
        "  postgres:\n"
        f"{connection}"
        "concurrency:\n"
        "  pools:\n"
        f"    default_limit: {pool_slots() if slots is None else slots}\n"
        "telemetry:\n"
        "  enabled: false\n"
    )


def uses_postgres(environ: Mapping[str, str]) -> bool:
    return any(environ.get(name) for name in PG_VARIABLES)


def instance_yaml(environ: Mapping[str, str] | None = None) -> str:
    """The dagster.yaml the environment asks for: PostgreSQL when any DAGSTER_PG_* is set, else embedded."""
    environ = os.environ if environ is None else environ
    return postgres_yaml(environ) if uses_postgres(environ) else EMBEDDED


def write_instance_yaml(home: Path, environ: Mapping[str, str] | None = None) -> Path:
    """`home`/dagster.yaml as the environment asks, written atomically (a reader never sees half of it); one the
    user wrote (without this module's marker) is kept as it is."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = instance_yaml(environ)
    if config.exists():
        current = config.read_text(encoding="utf-8")
        if current == wanted or not (current.startswith(MARKER) or current == LEGACY_EMBEDDED):
            return config
    write_text_atomic(wanted, config)
    return config


def main() -> None:
    """`python -m diplo_pipeline.lib.deploy.instance_yaml`: write $DAGSTER_HOME/dagster.yaml (make demo/dev)."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise SystemExit("DAGSTER_HOME is not set")
    try:
        write_instance_yaml(Path(home))
    except PostgresSettingsIncomplete as exc:
        raise SystemExit(str(exc)) from None


if __name__ == "__main__":
    main()
