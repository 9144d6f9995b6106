"""The PostgreSQL fixture itself: a real server on loopback that insists on the password it hands out."""

from __future__ import annotations

import psycopg2
import pytest


def test_the_fixture_serves_postgres_15_on_loopback_with_password_auth(postgres):
    env = postgres.env
    assert env["DAGSTER_PG_HOST"] == "127.0.0.1"
    con = psycopg2.connect(host=env["DAGSTER_PG_HOST"], port=int(env["DAGSTER_PG_PORT"]),
                           user=env["DAGSTER_PG_USER"], password=env["DAGSTER_PG_PASSWORD"],
                           dbname=env["DAGSTER_PG_DB"])
    try:
        with con.cursor() as cur:
            cur.execute("show server_version_num")
            assert cur.fetchone()[0].startswith("15")
            cur.execute("show listen_addresses")
            assert cur.fetchone()[0] == "127.0.0.1"
    finally:
        con.close()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(host=env["DAGSTER_PG_HOST"], port=int(env["DAGSTER_PG_PORT"]),
                         user=env["DAGSTER_PG_USER"], password="not-the-password", dbname=env["DAGSTER_PG_DB"])
