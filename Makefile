# The two commands of the quick start (make demo, make test) install what is
# missing themselves: Debian packages through scripts/ensure-system-deps.sh,
# Python packages into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup system-deps test-deps demo up down test lint format typecheck pytest bench bench-scale simulate clean

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

# CLUSTER=1 runs the local stack on a Redis Cluster (3 masters, 3 replicas).
up: setup
	$(BIN)/accountbot dev up --server $(SERVER) $(if $(CLUSTER),--cluster)

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
# Two sessions at once: every test on one redis-server (and the cluster's own tests
# on a local cluster), and the store, flow and chore suites again with Redis as a
# local Redis Cluster (3 masters, 3 replicas); the second one's log is shown after.
# (Not there: the simulator, which runs on a database of one node, and the CLI's
# "not yet safe" test, which needs a node without replica; tests/store/ and
# tests/cluster/ test the cluster in the first session.)
CLUSTER_SUITES := tests/ledger tests/billing tests/usage tests/groups tests/topup \
	tests/catalog tests/cli tests/cards tests/moves tests/referrals tests/notifications
CLUSTER_SKIP := --deselect tests/billing/test_simulator.py \
	--deselect tests/cli/test_cli_admin.py::test_a_credit_not_yet_on_its_replica_says_so_and_how_to_finish
CLUSTER_LOG := .local/pytest-cluster.log
pytest: setup test-deps
	@mkdir -p .local
	@ACCOUNTBOT_TEST_REDIS=cluster $(BIN)/pytest -p no:cacheprovider -q $(CLUSTER_SUITES) \
		$(CLUSTER_SKIP) > $(CLUSTER_LOG) 2>&1 & cluster=$$!; \
	$(BIN)/pytest; single=$$?; \
	wait $$cluster; on_cluster=$$?; \
	echo "--- the store, flow and chore suites on a Redis Cluster ($(CLUSTER_LOG)):"; \
	tail -n 12 $(CLUSTER_LOG); \
	test $$single -eq 0 && test $$on_cluster -eq 0

test: lint typecheck pytest

bench: setup
	$(BIN)/python -m bench

# The million-account run (not in make test, not in CI): ACCOUNTS accounts of a realistic
# mix on a redis-server of its own, then the renew and settle-usage chores, reconcile and
# INFO memory, each timed; one table, and .local/bench-scale.json (docs/operations.md).
ACCOUNTS ?= 1000000
CONCURRENCY ?= 32
bench-scale: setup
	$(BIN)/python -m bench.scale --accounts $(ACCOUNTS) --concurrency $(CONCURRENCY)

# The seeded billing simulator over many histories (make test runs a fixed few).
SEEDS ?= 200
JOBS ?= $(shell nproc)
simulate: setup test-deps
	$(BIN)/python -m tests.simulator --seeds $(SEEDS) --jobs $(JOBS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
