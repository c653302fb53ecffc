# Two commands set up everything on a fresh machine: `make demo` and `make test`.
# Installs come from requirements.lock (exact versions, so a fresh machine next month gets the same
# DuckDB, dbt and Ibis); `make lock` refreshes it from the ranges in pyproject.toml.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
LOCK_EXTRAS := --extra dev --extra bench
CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test lint install lock bench clean browser

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

test: lint browser
	$(BIN)/python -m pytest -n 2 -q tests

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

lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml $(LOCK_EXTRAS) --universal --python-version 3.11 -o $(LOCK)

bench: $(STAMP)  # the quick benchmark; report and raw results go to benchmarks/results/
	$(BIN)/ecomlake bench

clean:
	rm -rf data docs/validation_reports dbt_duckdb/target dbt_duckdb/logs
