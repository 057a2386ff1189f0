# The two commands of the quick start (make demo, make test) install what is
# missing themselves: Debian packages through scripts/ensure-system-deps.sh,
# Python packages into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup system-deps test-deps demo up down test lint format typecheck pytest bench simulate clean

setup: system-deps $(STAMP)

# SERVER=ejabberd runs the local stack on ejabberd instead of Prosody.
SERVER ?= prosody

system-deps:
	@scripts/ensure-system-deps.sh $(if $(filter ejabberd,$(SERVER)),--ejabberd)

test-deps:
	@scripts/ensure-system-deps.sh --test

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: setup
	$(BIN)/accountbot dev demo --server $(SERVER)

up: setup
	$(BIN)/accountbot dev up --server $(SERVER)

down:
	@if [ -x $(BIN)/accountbot ]; then $(BIN)/accountbot dev down; fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: setup
	$(BIN)/mypy

# pytest exits 5 when it collected no test: any non-zero code fails the target.
pytest: setup test-deps
	$(BIN)/pytest

test: lint typecheck pytest

bench: setup
	$(BIN)/python -m bench

# The seeded billing simulator over many histories (make test runs a fixed few).
SEEDS ?= 200
simulate: setup test-deps
	$(BIN)/python -m tests.simulator --seeds $(SEEDS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
