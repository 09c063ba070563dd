# PocketPing: `make serve` to try it, `make test` to check it. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup serve test test-slow test-fast lint typecheck widget widget-check sdk-node bench bench-smoke services browser clean \
	image image-test image-clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements-dev.txt sdk/pyproject.toml testkit/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "PocketPing needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	@# The distribution was called "pocketping" before it became "pocketping-server".
	@$(PY) -m pip uninstall --quiet --yes pocketping 2>/dev/null || true
	$(PY) -m pip install --quiet --disable-pip-version-check -e . -r requirements-dev.txt
	@touch $(STAMP)

serve: setup
	$(VENV)/bin/pocketping serve --demo

services:
	@scripts/ensure-services.sh

browser:
	@scripts/ensure-chromium.sh

test: setup services browser widget-check sdk-node
	$(PY) -m pytest -q -m "not slow"

# The slow extras (several real processes started and killed, idle CPU over seconds, a clean
# wheel install): kept out of `make test` so it stays under 20 minutes; .ci/run runs both.
test-slow: setup services
	$(PY) -m pytest -q -m slow

test-fast: setup
	POCKETPING_TEST_BACKENDS=sqlite $(PY) -m pytest -q -x -m "not browser and not slow"

# The widget (TypeScript -> one minified IIFE). Its built bundle is committed, so `make serve`
# never needs Node.js; `make widget-check` proves the committed bundle is a fresh build and
# within the size budget (10,240 bytes gzipped).
WIDGET_NPM := widget/node_modules/.installed

$(WIDGET_NPM): widget/package.json widget/package-lock.json
	@scripts/ensure-node.sh
	cd widget && npm ci --no-audit --no-fund --loglevel=error
	@touch $(WIDGET_NPM)

widget: $(WIDGET_NPM)
	cd widget && npx --no-install tsc --noEmit -p . && node build.mjs
	@if [ -x $(PY) ]; then $(PY) scripts/widget_size.py; fi

widget-check: $(WIDGET_NPM)
	cd widget && npx --no-install tsc --noEmit -p . && node build.mjs --check
	@if [ -x $(PY) ]; then $(PY) scripts/widget_size.py; fi

# The Node.js SDK (sdk-node/, @pocketping/sdk): TypeScript -> dist/esm + dist/cjs with .d.ts.
# dist/ is not committed: `make test` builds it (tests/sdk_node packs and installs it).
SDK_NODE_NPM := sdk-node/node_modules/.installed
SDK_NODE_BUILT := sdk-node/dist/.built

$(SDK_NODE_NPM): sdk-node/package.json sdk-node/package-lock.json
	@scripts/ensure-node.sh
	cd sdk-node && npm ci --no-audit --no-fund --loglevel=error
	@touch $(SDK_NODE_NPM)

$(SDK_NODE_BUILT): $(SDK_NODE_NPM) $(wildcard sdk-node/src/*.ts) sdk-node/build.mjs sdk-node/tsconfig.json \
		sdk-node/tsconfig.esm.json sdk-node/tsconfig.cjs.json
	cd sdk-node && node build.mjs

sdk-node: $(SDK_NODE_BUILT)

lint: setup $(SDK_NODE_NPM)
	$(VENV)/bin/ruff check src tests sdk/src testkit/src scripts/widget_roundtrip.py scripts/widget_size.py scripts/image_test.py scripts/image_bytecode.py
	$(VENV)/bin/lint-imports --config pyproject.toml
	$(VENV)/bin/mypy
	cd sdk && ../$(VENV)/bin/mypy
	cd sdk-node && npx --no-install tsc --noEmit -p .

bench: setup services
	$(PY) -m bench

# The container image (Containerfile), built and checked on this machine without a container
# engine or a registry: Debian's buildah (chroot isolation) on a Debian base made by debootstrap,
# cached in ~/.cache/pocketping-image. Elsewhere: `docker build -t pocketping .`.
image:
	@scripts/ensure-buildah.sh
	scripts/image.sh build

image-test: setup image
	$(PY) scripts/image_test.py

image-clean:
	scripts/image.sh clean

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
