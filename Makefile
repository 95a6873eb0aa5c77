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
	bench bench-quick test-newest test-oldest console console-test console-screenshots \
	console-missing browser

# The web console (console/README.md) needs Node.js 20.19 or newer. With it, `make test` builds
# and tests the console (the browser test runs in pytest) and `make demo` / `make run` serve it
# at /console; without it they say so in one line and go on.
NODE_OK := $(shell node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)' >/dev/null 2>&1 && echo yes)
CONSOLE := $(if $(NODE_OK),console,console-missing)
CONSOLE_TEST := $(if $(NODE_OK),console-test,console-missing)
# npm ci rewrites node_modules/.package-lock.json: a stamp of the locked install.
CONSOLE_DEPS := console/node_modules/.package-lock.json

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

demo: install-run $(CONSOLE)
	$(BIN)/vigil demo $(if $(PORT),--port $(PORT))

# Atlassian's OAuth consent returns to the console Vigil serves (unless VIGIL_FRONTEND_URL says
# otherwise).
run: install-run $(CONSOLE)
	VIGIL_ENV=$${VIGIL_ENV:-development} \
	VIGIL_FRONTEND_URL=$${VIGIL_FRONTEND_URL:-http://127.0.0.1:$(or $(PORT),$${VIGIL_PORT:-8000})/console} \
	$(BIN)/vigil serve $(if $(PORT),--port $(PORT))

test: install lint typecheck browser $(CONSOLE_TEST) pytest

# The browser tests (the console's, the auditor report's) drive Debian's Chromium, never a
# browser download: installed here when missing and apt-get is there (as root, or with sudo);
# elsewhere they are skipped, and this says so.
CHROMIUM ?= /usr/bin/chromium
APT_GET ?= apt-get
browser:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if command -v $(APT_GET) >/dev/null; then \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  echo "Installing Debian's chromium for the browser tests"; \
	  $$SUDO $(APT_GET) update -qq && $$SUDO $(APT_GET) install -y -qq chromium >/dev/null; \
	else \
	  echo "Browser tests skipped: no $(CHROMIUM) and no apt-get to install Debian's chromium."; \
	fi

$(CONSOLE_DEPS): console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund

# Typed operations from schema.graphql (a breaking schema change fails here or in tsc), then
# the bundle and its size budget (300 KB of compressed JavaScript).
console: $(CONSOLE_DEPS)
	cd console && npm run build

# Vitest component tests; the browser test (tests/console/) runs with pytest.
console-test: console
	cd console && npm test

# Screenshots of every screen, taken by the browser test, into docs/console/.
console-screenshots: install console
	VIGIL_CONSOLE_SCREENSHOTS=$(CURDIR)/docs/console $(BIN)/pytest -q -p no:randomly \
		tests/console/test_console_browser.py

console-missing:
	@echo "Web console skipped: it needs Node.js 20.19+ (then \`make console\` builds it for /console)."

# lint-imports: the import layers and boundaries ([tool.importlinter] in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy
	$(BIN)/mypy bench  # the benchmarks build services too: a changed signature fails here

# Two worker processes (pytest-xdist), one per core of the 2-core machine the suite is sized for;
# `make pytest PYTEST_WORKERS=0` runs it in one process (docs/decisions/023-parallel-tests.md).
PYTEST_WORKERS ?= 2

pytest: install
	$(BIN)/pytest -q -n $(PYTEST_WORKERS)

# The suite against the newest and the oldest releases the pins allow of the libraries whose
# internals Vigil's adapters know (docs/decisions/012-library-adapters.md), each in a virtualenv
# of its own: `test-newest` upgrades them to the newest pyproject.toml allows, `test-oldest`
# installs their lower bounds. `.ci/run` runs both after `make test`.
PINNED := strawberry-graphql starlette graphql-core uvicorn
SHOW_PINNED := pip list 2>/dev/null | grep -iE '^(strawberry-graphql|starlette|graphql-core|uvicorn) '

test-newest:
	test -x .venv-newest/bin/python || $(PYTHON) -m venv .venv-newest
	.venv-newest/bin/pip install -q -U -e '.[dev]' $(PINNED) $(PIP_QUIET)
	.venv-newest/bin/$(SHOW_PINNED)
	.venv-newest/bin/pytest -q -n $(PYTEST_WORKERS)

test-oldest:
	test -x .venv-oldest/bin/python || $(PYTHON) -m venv .venv-oldest
	.venv-oldest/bin/pip install -q -e '.[dev]' $$($(PYTHON) .ci/lowest_pins.py $(PINNED)) $(PIP_QUIET)
	.venv-oldest/bin/$(SHOW_PINNED)
	.venv-oldest/bin/pytest -q -n $(PYTEST_WORKERS)

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
# evidence size: the largest document after recording 20k and 100k accounts (wire store)
	$(BIN)/python bench/evidence_size.py
# abuse: every attack at once beside a normal client (latency, server memory; wire store)
	$(BIN)/python bench/abuse.py
# scale: 100,000 accounts on the wire store (per-account evaluation, cold start, largest document)
	$(BIN)/python bench/scale.py
# the collector's share of a cold evaluation at 100,000 accounts, default and raised thresholds
	$(BIN)/python bench/cold_gc.py
# change watch: admin action -> push latency over 50 changes at the 20 s poll,
# requests per change and per idle hour (wire store, about 25 minutes)
	$(BIN)/python bench/change_watch.py

bench-quick: install
# sync
	$(BIN)/python bench/sync_wall.py --users 1000 --groups 60 --store embedded
# fan-out
	$(BIN)/python bench/fanout.py --subscribers 100 --events 3
# evaluation
	$(BIN)/python bench/evaluation.py --quick
# reads
	$(BIN)/python bench/reads.py --quick
# evidence size
	$(BIN)/python bench/evidence_size.py --quick
# abuse
	$(BIN)/python bench/abuse.py --quick
# scale
	$(BIN)/python bench/scale.py --quick
	$(BIN)/python bench/cold_gc.py --quick
# change watch (6 changes, 1 s poll, about 30 s)
	$(BIN)/python bench/change_watch.py --quick

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .venv-newest .venv-oldest .mypy_cache .ruff_cache .pytest_cache \
		console/node_modules console/dist console/src/gql
