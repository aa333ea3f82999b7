# Tocsin: `make run` starts the local stack, `make test` runs every test. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_READY := $(VENV)/.ready
NODE_READY := node_modules/.ready
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: setup run test test-unit test-integration test-e2e test-infra bench synth lint clean

setup: $(PY_READY) $(NODE_READY)

$(PY_READY): requirements.txt requirements-dev.txt Makefile
	@command -v java >/dev/null || { echo "Java 17+ is needed for DynamoDB Local (apt-get install openjdk-17-jre-headless)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@# the domain package and the local stack import everywhere, subprocesses included, without copying
	@echo "$(CURDIR)/layers/core/python" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/tocsin.pth"
	@echo "$(CURDIR)" >> "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/tocsin.pth"
	@# the `tocsin` command line, in the venv's bin
	@printf '#!/bin/sh\nexec "%s" -m tocsin_cli "$$@"\n' "$(CURDIR)/$(PY)" > $(VENV)/bin/tocsin && chmod +x $(VENV)/bin/tocsin
	@touch $@

$(NODE_READY): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: setup
	$(PY) -m local

test: setup
	$(PY) -m pytest

test-unit: setup
	$(PY) -m pytest tests/unit

test-integration: setup
	$(PY) -m pytest tests/integration

test-e2e: setup
	$(PY) -m pytest tests/e2e

test-infra: setup
	$(PY) -m pytest tests/infra

bench: setup
	$(PY) bench/ingest.py

synth: setup
	npx cdk synth -q

lint: setup
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache
