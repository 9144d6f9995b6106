# The user-code image of deploy/ (docker-compose.yml and the Helm chart's user deployment): this repository
# installed from pyproject.toml's pins exactly as `make` installs them (the same two pip commands; the `k8s`
# extra in place of `dev`: dagster-k8s for the K8sRunLauncher, no test tools). Editable, as with make: the SQL
# project (dbt_like_sql/) is read from beside the package. tests/unit/deploy/test_deploy_files.py holds it to that.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    DIPLO_DATA_DIR=/opt/diplo-pipeline/data

WORKDIR /opt/diplo-pipeline
COPY pyproject.toml README.md workspace.yaml ./
COPY diplo_pipeline ./diplo_pipeline
COPY dbt_like_sql ./dbt_like_sql
RUN python -m pip install -q --upgrade pip && python -m pip install -q -e '.[k8s]'
RUN mkdir -p "$DAGSTER_HOME" "$DIPLO_DATA_DIR"

# The code server the webserver, the daemon and the launched runs load the definitions from.
EXPOSE 4000
CMD ["dagster", "api", "grpc", "--module-name", "diplo_pipeline.definitions", "--host", "0.0.0.0", "--port", "4000"]
