# Every target creates .venv when it is missing (or when pyproject.toml changed) and keeps Dagster's
# state in a project-local, gitignored folder.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: venv instance demo test dev bench bench-scaling lint fuzz clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# DAGSTER_HOME's dagster.yaml: the embedded SQLite instance, or PostgreSQL when DAGSTER_PG_* are set (then
# the webserver, the daemon and `diplo build` share it; diplo_pipeline/lib/deploy/instance_yaml.py). A
# dagster.yaml you wrote yourself is left as it is.
instance: venv
	@$(BIN)/python -m diplo_pipeline.lib.deploy.instance_yaml

demo: venv instance
	$(BIN)/diplo demo

test: venv
	DIPLO_TEST_PREBUILD_DEMO=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile

dev: venv instance
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# BENCH_ARGS="--scaling-sizes 50 200" picks the scaling run's sizes, BENCH_ARGS=--no-scaling leaves it out;
# `make bench-scaling SCALING_ARGS="--sizes 50 200 800"` runs only the scaling run (bench/scaling.py).
bench: venv
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-scaling: venv
	$(BIN)/python -m bench.scaling $(SCALING_ARGS)

# Mutation fuzzing of the readers: the byte-mutation loops run for FUZZ_SECONDS, and each hypothesis
# property for its `fuzz` profile's examples on top (tests/fuzz/conftest.py); failing inputs are saved
# under tests/fuzz/regressions/ and replayed by `make test` from then on.
FUZZ_SECONDS ?= 300
fuzz: venv
	DIPLO_FUZZ_PROFILE=fuzz DIPLO_FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/python -m pytest -q -p no:cacheprovider tests/fuzz

lint: venv
	$(BIN)/ruff check diplo_pipeline tests bench
	$(BIN)/sqlfluff lint dbt_like_sql  # DuckDB dialect and the project's style: .sqlfluff
	cd $(CURDIR) && $(BIN)/dg check defs

clean:
	rm -rf data/lake data/warehouse.duckdb data/quarantine data/inbox data/reports $(DAGSTER_HOME)
