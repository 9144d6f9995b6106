"""A real PostgreSQL 15 server for the tests, started and stopped by the test itself.

Debian's `postgresql` package is installed on these machines (`.ci/run` installs it where missing). `initdb` and
`pg_ctl` refuse to run as root, so when the tests run as root they run as the `postgres` user (`runuser`), in a
temporary directory that user owns. The server listens only on 127.0.0.1, on a port free at start, with password
(scram-sha-256) authentication for one superuser: the same connection settings a real deployment passes through
the `DAGSTER_PG_*` variables of WAREHOUSE.md.

    with postgres_server() as pg:       # or the session fixture `postgres` in tests/conftest.py
        pg.env                          # {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": "...", ...}
        pg.create_database("other")     # a fresh, empty database on the same server; returns its env
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

PG_BIN = Path(os.environ.get("DIPLO_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVICE_USER = "postgres"  # Debian's account for the server; used only when the tests run as root
SUPERUSER, PASSWORD, DATABASE = "diplo", "diplo-test-password", "dagster"


@dataclasses.dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    db: str
    root: Path  # the temporary directory holding the data directory, socket and log

    @property
    def env(self) -> dict[str, str]:
        """The connection settings as the DAGSTER_PG_* variables the Dagster instance reads."""
        return self.env_for(self.db)

    def env_for(self, db: str) -> dict[str, str]:
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_DB": db,
                "DAGSTER_PG_USER": self.user, "DAGSTER_PG_PASSWORD": self.password}

    @property
    def url(self) -> str:
        return self.url_for(self.db)

    def url_for(self, db: str) -> str:
        """As DAGSTER_PG_URL takes it: the scheme names the driver dagster-postgres installs (psycopg2)."""
        return f"postgresql+psycopg2://{self.user}:{self.password}@{self.host}:{self.port}/{db}"

    def execute(self, db: str, *statements: str) -> list[tuple]:
        """Run `statements` in order on one autocommitted connection to `db`; the last one's rows (none when
        it returns none)."""
        import psycopg2

        con = psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password, dbname=db)
        try:
            con.autocommit = True  # CREATE DATABASE cannot run inside a transaction
            with con.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
                return cur.fetchall() if cur.description else []
        finally:
            con.close()

    def create_database(self, name: str) -> dict[str, str]:
        """An empty database on this server (a test that must not see another's runs gets its own)."""
        self.execute("postgres", f'create database "{name}"')
        return self.env_for(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_service_user(argv: list[str]) -> list[str]:
    """`initdb`/`pg_ctl` refuse root: as root, run them as the postgres account; otherwise as ourselves."""
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", SERVICE_USER, "--", *argv]
    return ["su", SERVICE_USER, "-s", "/bin/sh", "-c", " ".join(f"'{a}'" for a in argv)]


def _run(argv: list[str], root: Path) -> None:
    done = subprocess.run(_as_service_user(argv), cwd=root, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        log = root / "server.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise RuntimeError(f"{' '.join(argv[:2])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n{tail}")


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a throwaway PostgreSQL server (fsync off: its data dies with the test) and stop it afterwards."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(f"PostgreSQL 15 is not installed at {PG_BIN}: `apt-get install -y postgresql` "
                           "(as .ci/run does)")
    root = Path(tempfile.mkdtemp(prefix="diplo-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        account = pwd.getpwnam(SERVICE_USER)
        os.chown(root, account.pw_uid, account.pw_gid)
    root.chmod(0o700)
    pwfile = root / "pwfile"
    pwfile.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        os.chown(pwfile, account.pw_uid, account.pw_gid)
    port = _free_port()
    started = False
    try:
        _run([str(PG_BIN / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={pwfile}",
              "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"], root)
        options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=200")
        _run([str(PG_BIN / "pg_ctl"), "start", "-D", str(data), "-w", "-t", "60", "-l", str(root / "server.log"),
              "-o", options], root)
        started = True
        server = PostgresServer("127.0.0.1", port, SUPERUSER, PASSWORD, DATABASE, root)
        server.create_database(DATABASE)
        yield server
    finally:
        if started:
            _run([str(PG_BIN / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w", "-t", "60"], root)
        shutil.rmtree(root, ignore_errors=True)
