"""deploy/ as far as it can be checked without a Docker engine or a cluster (neither runs on this machine):
the image installs the project exactly as `make` does, every file parses, the instance file is the one the
code writes, and every variable handed to the pipeline's containers is one the code reads."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import yaml

from diplo_pipeline.lib.deploy.instance_yaml import postgres_yaml

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
# Read by Dagster itself, not by this package's code.
READ_BY_DAGSTER = {"DAGSTER_HOME"}


def _pip_installs(text: str, python: str) -> list[str]:
    return [line.split(f"{python} -m pip install", 1)[1].strip()
            for line in re.split(r"\n|&&", text) if f"{python} -m pip install" in line]


def _variables_the_code_reads() -> set[str]:
    """Every upper-case string constant in the package: the names it passes to os.environ and friends."""
    names = set()
    for path in (ROOT / "diplo_pipeline").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names |= set(re.findall(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", node.value))
    return names


def test_the_image_installs_the_project_as_make_does():
    make = _pip_installs((ROOT / "Makefile").read_text(), "$(BIN)/python")
    image = _pip_installs((ROOT / "Dockerfile").read_text(), "python")
    assert make and len(image) == len(make)
    # the same commands, the deployment's extra in place of the test tools
    assert image == [command.replace(".[dev]", ".[k8s]") for command in make]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dagster = next(d for d in project["dependencies"] if d.startswith("dagster=="))
    release = dagster.split("==")[1]  # 1.X.Y; its integrations are 0.(X+16).Y
    _, minor, patch = release.split(".")
    assert project["optional-dependencies"]["k8s"] == [f"dagster-k8s==0.{int(minor) + 16}.{patch}"]


def test_every_deploy_file_parses():
    for name in ("dagster.yaml", "workspace.yaml", "docker-compose.yml", "helm/values.yaml"):
        assert isinstance(yaml.safe_load((DEPLOY / name).read_text()), dict), name
    kinds = [doc["kind"] for doc in yaml.safe_load_all((DEPLOY / "helm/secrets.example.yaml").read_text())]
    assert kinds == ["Secret", "Secret", "ConfigMap"]


def test_the_instance_file_is_the_one_the_code_writes():
    environ = {"DAGSTER_PG_HOST": "postgres", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_DB": "dagster",
               "DAGSTER_PG_USER": "dagster", "DAGSTER_PG_PASSWORD": "x"}
    assert yaml.safe_load((DEPLOY / "dagster.yaml").read_text()) == yaml.safe_load(postgres_yaml(environ))
    values = yaml.safe_load((DEPLOY / "helm/values.yaml").read_text())
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["additionalInstanceConfig"]["concurrency"] == yaml.safe_load(postgres_yaml(environ))["concurrency"]


def test_every_variable_given_to_the_pipeline_is_one_it_reads():
    reads = _variables_the_code_reads() | READ_BY_DAGSTER
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    given = set(compose["x-diplo-env"])
    for doc in yaml.safe_load_all((DEPLOY / "helm/secrets.example.yaml").read_text()):
        if doc["metadata"]["name"] in ("diplo-secrets", "diplo-settings"):  # what the pipeline's pods get
            given |= set(doc.get("stringData") or doc.get("data"))
    assert given - reads == set()
    # the instance's variables reach the processes that load it (code server, webserver, daemon)
    instance = set(re.findall(r"env: (\w+)", (DEPLOY / "dagster.yaml").read_text()))
    assert instance <= given
    services = [s for s in compose["services"].values() if s.get("image") == "diplo-pipeline:latest"]
    assert len(services) >= 3 and all(set(s["environment"]) >= instance for s in services)
