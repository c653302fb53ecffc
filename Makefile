# Two commands set up everything on a fresh machine: `make demo` and `make test`.
# Installs come from requirements.lock (exact versions, so a fresh machine next month gets the same
# DuckDB, dbt and Ibis); `make lock` refreshes it from the ranges in pyproject.toml.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
LOCK_EXTRAS := --extra dev --extra bench --extra gcs --extra spark
CHROMIUM ?= /usr/bin/chromium

AIRFLOW_LOCK := airflow/requirements.lock
AIRFLOW_STAMP := $(VENV)/.airflow-installed
AIRFLOW_HOME ?= $(CURDIR)/.airflow
SYS_PYTHON := $(shell command -v $(PYTHON) 2>/dev/null || command -v python3)

.PHONY: demo test test-spark lint install lock bench clean browser \
	airflow-install airflow-lock airflow-test airflow-env airflow-up airflow-down airflow-secrets

$(STAMP): pyproject.toml $(LOCK)
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r $(LOCK)
	$(BIN)/pip install -q --no-deps -e .
	@$(BIN)/pip check >/dev/null || { $(BIN)/pip check; echo "error: $(LOCK) does not satisfy pyproject.toml; run 'make lock'"; exit 2; }
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ecomlake local demo-fast

# The same checks as .pre-commit-config.yaml (mypy and sqlfluff read pyproject.toml and dbt_duckdb/.sqlfluff).
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/sqlfluff lint dbt_duckdb
	$(BIN)/python -m ecomlake.silver.codegen --check

test: lint browser airflow-install
	$(BIN)/python -m pytest -n 2 -q tests

# Only the Spark parity tests (tests/spark, marker `spark`; also part of `make test`): Base Silver and
# Enriched on local Spark equal DuckDB row for row. One JVM per pytest worker.
test-spark: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m spark tests/spark

# Headless Chromium for the dashboard's browser test (Debian package `chromium`). Idempotent, and never
# fails the build: where it cannot be installed (no apt-get, not root, offline) that one test is skipped.
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing chromium (apt-get) for the dashboard's browser test"; \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
	    || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; }; } \
	  || echo "note: could not install chromium; the dashboard's browser test will be skipped"; \
	else echo "note: chromium is not installed and apt-get is not usable here; the dashboard's browser test will be skipped"; fi

lock:  # needs only uv: a full install would refuse the stale lock this replaces
	@test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/pip install -q "uv>=0.13,<0.14"; }
	$(BIN)/uv pip compile pyproject.toml $(LOCK_EXTRAS) --universal --python-version 3.11 -o $(LOCK)

# --- Airflow (airflow/dags, README "Running the lake with Airflow") ------------------------------
# Airflow lives in the project's .venv, installed from airflow/requirements.lock: apache-airflow and
# the project's own dependencies, compiled against requirements.lock so every shared package keeps
# its pin (the upstream constraints file cannot be downloaded here). Output goes to stderr, so that
# `eval "$$(make -s airflow-env)"` only sees the exports.
$(AIRFLOW_STAMP): $(STAMP) $(AIRFLOW_LOCK)
	$(BIN)/pip install -q -r $(AIRFLOW_LOCK) 1>&2
	@$(BIN)/pip check >/dev/null || { $(BIN)/pip check 1>&2; echo "error: $(AIRFLOW_LOCK) does not satisfy pyproject.toml; run 'make airflow-lock'" 1>&2; exit 2; }
	@touch $@

airflow-install: $(AIRFLOW_STAMP)

airflow-lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra airflow -c $(LOCK) --universal --python-version 3.11 -o $(AIRFLOW_LOCK)

airflow-test: airflow-install  # the DAG, standalone and Docker tests (also part of `make test`)
	$(BIN)/python -m pytest -n 2 -q tests/airflow

airflow-env: airflow-install  # eval "$$(make -s airflow-env)": the exports `airflow ...` needs (AIRFLOW_HOME=.airflow)
	@AIRFLOW_HOME=$(AIRFLOW_HOME) $(BIN)/python airflow/local_stack.py env

airflow-up: airflow-install  # api-server, scheduler, dag-processor, triggerer on 127.0.0.1 (AIRFLOW_PORT, default a free port)
	@AIRFLOW_HOME=$(AIRFLOW_HOME) $(BIN)/python airflow/local_stack.py up

airflow-down:
	@AIRFLOW_HOME=$(AIRFLOW_HOME) $(BIN)/python airflow/local_stack.py down

airflow-secrets:  # .env for `docker compose up` (random credentials; never overwrites; FORCE=1 to replace)
	@$(SYS_PYTHON) airflow/local_stack.py secrets

bench: $(STAMP)  # the quick benchmark; report and raw results go to benchmarks/results/
	$(BIN)/ecomlake bench

clean:
	rm -rf data docs/validation_reports dbt_duckdb/target dbt_duckdb/logs
