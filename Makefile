# Everything a fresh machine needs: `make run` (service) and `make test` (lint, types, tests).
SHELL := bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two installs: what running needs (`pip install -e .`, for demo/run) and the dev tools on top
# (`.[dev]`, for test/lint/typecheck); the dev install satisfies running too.
STAMP := $(VENV)/.installed-stamp
RUN_STAMP := $(VENV)/.run-installed-stamp
PIP_QUIET := 2>&1 | { grep -v "^WARNING: Location" || true; }
# `make demo PORT=18000`, or VIGIL_PORT=18000 in the environment (vigil demo reads it).
PORT ?=

.PHONY: install install-run run demo test lint typecheck pytest schema format simulator clean \
	bench-quick bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]' $(PIP_QUIET)
	touch $(STAMP) $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e . $(PIP_QUIET)
	touch $(RUN_STAMP)

install: $(STAMP)

install-run: $(RUN_STAMP)

demo: install-run
	$(BIN)/vigil demo $(if $(PORT),--port $(PORT))

run: install-run
	VIGIL_ENV=$${VIGIL_ENV:-development} $(BIN)/vigil serve $(if $(PORT),--port $(PORT))

test: install lint typecheck pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest -q

schema: install
	$(BIN)/vigil schema > schema.graphql

# A small run of the performance measures (under a minute; not part of `make test`).
bench-quick: install
	$(BIN)/python bench/sync_wall.py --users 1000 --groups 60 --store embedded
	$(BIN)/python bench/evaluation.py --quick

# The performance measures at full size (long: minutes each; figures in bench/RESULTS.md).
bench: install
	$(BIN)/python bench/evaluation.py

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
