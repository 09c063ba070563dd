# PocketPing: `make serve` to try it, `make test` to check it. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup serve test test-fast lint typecheck widget widget-check bench bench-smoke services browser clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "PocketPing needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e . -r requirements-dev.txt
	@touch $(STAMP)

serve: setup
	$(VENV)/bin/pocketping serve --demo

services:
	@scripts/ensure-services.sh

browser:
	@scripts/ensure-chromium.sh

test: setup services browser
	$(PY) -m pytest -q

test-fast: setup
	POCKETPING_TEST_BACKENDS=sqlite $(PY) -m pytest -q -x -m "not browser and not slow"

lint: setup
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/mypy

bench: setup services
	$(PY) -m bench

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
