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
	bench bench-quick

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

# lint-imports: the import layers and boundaries ([tool.importlinter] in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy
	$(BIN)/mypy bench  # the benchmarks build services too: a changed signature fails here

pytest: install
	$(BIN)/pytest -q

schema: install
	$(BIN)/vigil schema > schema.graphql

# The performance measures of issue 15 (bench/README.md; figures in bench/RESULTS.md). Each
# command prints its measure next to its target, the store and the machine. `make bench` runs
# every one at full size (tens of minutes); `make bench-quick` a small version of each, which
# `.ci/run` runs after `make test` so they keep working (under a minute). A new measure adds
# one line to each target, in its section.
bench: install
# sync: wall time next to the request floor (both stores), peak memory
	$(BIN)/python bench/sync_wall.py --users 20000 --groups 450 --store embedded
	$(BIN)/python bench/sync_wall.py --users 20000 --groups 450 --store wire
	$(BIN)/python bench/sync_memory.py --users 20000 --groups 400 --pages 500
# fan-out: one change to 1,000 WebSocket subscribers (latency, memory per subscriber)
	$(BIN)/python bench/fanout.py --subscribers 1000 --events 10
# evaluation: mutation -> push at 20k and 100k accounts, cold start
	$(BIN)/python bench/evaluation.py
# reads: GraphQL / plain JSON for checks, accounts and `me`; accounts pages at 20k and 100k
	$(BIN)/python bench/reads.py
	$(BIN)/python bench/reads.py --accounts 100000

bench-quick: install
# sync
	$(BIN)/python bench/sync_wall.py --users 1000 --groups 60 --store embedded
# fan-out
	$(BIN)/python bench/fanout.py --subscribers 100 --events 3
# evaluation
	$(BIN)/python bench/evaluation.py --quick
# reads
	$(BIN)/python bench/reads.py --quick

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
