"""DAGSTER_HOME's dagster.yaml: the embedded default unchanged, PostgreSQL from DAGSTER_PG_* (the keys checked
against dagster's own instance schema), a partial setting refused with what to set, the user's file kept."""

from __future__ import annotations

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

from diplo_pipeline.lib.deploy.instance_yaml import (
    EMBEDDED,
    LEGACY_EMBEDDED,
    PostgresSettingsIncomplete,
    instance_yaml,
    write_instance_yaml,
)
from diplo_pipeline.lib.warehouse.thresholds import limit

PARTS = {"DAGSTER_PG_HOST": "db.example", "DAGSTER_PG_PORT": "6543", "DAGSTER_PG_DB": "dagster",
         "DAGSTER_PG_USER": "diplo", "DAGSTER_PG_PASSWORD": "s3cret"}


def _validated(home, monkeypatch, env: dict[str, str]) -> dict:
    """The file as Dagster reads it, `env:` values resolved from `env` (an invalid key raises here)."""
    for name in (*PARTS, "DAGSTER_PG_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    write_instance_yaml(home, env)
    config, _ = dagster_instance_config(str(home))
    return config


def test_without_dagster_pg_variables_the_instance_is_the_embedded_one_as_before(tmp_path, monkeypatch):
    assert instance_yaml({}) == EMBEDDED
    assert yaml.safe_load(EMBEDDED) == {"telemetry": {"enabled": False}}  # SQLite under DAGSTER_HOME, no pools
    config = _validated(tmp_path, monkeypatch, {})
    assert "storage" not in config and "concurrency" not in config


def test_the_parts_configure_run_event_log_and_schedule_storage_by_name_never_by_value(tmp_path, monkeypatch):
    text = instance_yaml(PARTS)
    assert "s3cret" not in text and "db.example" not in text  # the file names the variables only
    postgres = yaml.safe_load(text)["storage"]["postgres"]["postgres_db"]
    assert postgres == {"hostname": {"env": "DAGSTER_PG_HOST"}, "port": {"env": "DAGSTER_PG_PORT"},
                        "db_name": {"env": "DAGSTER_PG_DB"}, "username": {"env": "DAGSTER_PG_USER"},
                        "password": {"env": "DAGSTER_PG_PASSWORD"}, "scheme": "postgresql+psycopg2"}
    config = _validated(tmp_path, monkeypatch, PARTS)
    assert config["concurrency"]["pools"]["default_limit"] == int(limit("dagster_pool_slots"))


def test_a_url_wins_and_the_port_and_password_may_be_left_to_their_defaults(tmp_path, monkeypatch):
    url = {"DAGSTER_PG_URL": "postgresql+psycopg2://diplo:s3cret@db.example:6543/dagster", **PARTS}
    assert yaml.safe_load(instance_yaml(url))["storage"]["postgres"] == {"postgres_url": {"env": "DAGSTER_PG_URL"}}
    _validated(tmp_path / "url", monkeypatch, url)
    bare = {k: v for k, v in PARTS.items() if k not in ("DAGSTER_PG_PORT", "DAGSTER_PG_PASSWORD")}
    assert set(yaml.safe_load(instance_yaml(bare))["storage"]["postgres"]["postgres_db"]) == {
        "hostname", "db_name", "username", "scheme"}
    _validated(tmp_path / "bare", monkeypatch, bare)


def test_a_partial_setting_says_what_is_missing_and_writes_nothing(tmp_path):
    with pytest.raises(PostgresSettingsIncomplete, match="also set DAGSTER_PG_DB, DAGSTER_PG_USER"):
        write_instance_yaml(tmp_path, {"DAGSTER_PG_HOST": "db.example"})
    assert not (tmp_path / "dagster.yaml").exists()


def test_a_url_without_the_installed_driver_is_refused_with_the_form_to_write():
    # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3, which dagster-postgres does not install.
    with pytest.raises(PostgresSettingsIncomplete, match=r"must start with postgresql\+psycopg2://"):
        instance_yaml({"DAGSTER_PG_URL": "postgresql://diplo:s3cret@db.example/dagster"})


@pytest.mark.parametrize("first", [EMBEDDED, LEGACY_EMBEDDED], ids=["diplo", "make"])
def test_our_file_follows_the_variables_and_the_users_own_file_is_kept(tmp_path, first):
    config = tmp_path / "dagster.yaml"
    config.write_text(first)
    write_instance_yaml(tmp_path, PARTS)
    assert config.read_text() == instance_yaml(PARTS)  # switched to PostgreSQL
    write_instance_yaml(tmp_path, {})
    assert config.read_text() == EMBEDDED  # and back
    own = "telemetry:\n  enabled: true\nrun_monitoring:\n  enabled: true\n"
    config.write_text(own)
    write_instance_yaml(tmp_path, PARTS)
    assert config.read_text() == own
