# Everything a fresh machine needs: `make run` (service) and `make test` (lint, types, tests).
SHELL := bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PIP_QUIET := 2>&1 | { grep -v "^WARNING: Location" || true; }

.PHONY: install run demo test lint typecheck pytest schema format simulator clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]' $(PIP_QUIET)
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/vigil demo

run: install
	VIGIL_ENV=$${VIGIL_ENV:-development} $(BIN)/vigil serve

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

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
