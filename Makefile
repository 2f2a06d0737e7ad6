# Everything a fresh machine needs, from this repo's own files.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: install lock lint postgres test-fast test demo demo-classic dev sandbox benchmark fuzz receiver-load clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml sandbox/pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]' -e ./sandbox
	touch $@

install: $(VENV)/.installed

## Re-pin requirements.lock from a fresh resolve of pyproject.toml's ranges (then commit it).
lock: | $(BIN)/python
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --upgrade pip
	.venv-lock/bin/pip install --quiet '.[dev]' ./sandbox
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^cascade-sync' > requirements.lock
	rm -rf .venv-lock

## ruff (lint, format, import order), sqlfluff (the .sql files, DuckDB dialect), mypy (the product package).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint
	$(BIN)/mypy

## The PostgreSQL server the tests start on loopback (Debian's postgresql), installed when absent.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null)

## The fast tier: every package, no daemon, webserver, kill or fault drill (under a minute).
test-fast: install postgres
	$(BIN)/pytest -n 2 -q -m "not slow"

## Full sync of every workspace of config/sandbox.yaml against the embedded sandbox.
demo: install
	$(BIN)/cascade-sync --config config/sandbox.yaml demo

## The same sandbox company synced onto Cascade's classic API (creates goals and tasks).
demo-classic: install
	$(BIN)/cascade-sync --config config/sandbox-classic.yaml demo

## The whole test suite.
test: install postgres
	$(BIN)/pytest -n 2 -q

## The sandbox emulators alone, on their fixed ports, until Ctrl-C.
sandbox: install
	$(BIN)/cascade-sync --config config/sandbox.yaml sandbox

## The Dagster UI on the sandbox, with schedules, sensors and the webhook receiver live.
dev: install
	$(BIN)/cascade-sync --config config/sandbox.yaml dev

## Every benchmark on the sandbox (request economy, rate limits, 1M-task staging): figures beside goals.
benchmark: install
	$(BIN)/python -m benchmarks

## The fuzzing pass, longer than in the suite (FUZZ_SCALE times the suite's example budgets).
FUZZ_SCALE ?= 50
fuzz: install
	CASCADE_SYNC_FUZZ_SCALE=$(FUZZ_SCALE) $(BIN)/pytest -q -m fuzz -p no:cacheprovider

## The webhook receiver under hostile load on loopback for RECEIVER_LOAD_SECONDS (default 60).
RECEIVER_LOAD_SECONDS ?= 60
receiver-load: install
	$(BIN)/python -m benchmarks.receiver_load --seconds $(RECEIVER_LOAD_SECONDS)

clean:
	rm -rf data .dagster_home
