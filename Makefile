# make run: set up (venv, pinned install), build the index if missing or stale, serve on 127.0.0.1:5000
# make test: the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt
PIN := $(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
# Serving needs no torch; KB_MODEL=minilm or st:<path> does: make run EXTRAS=,st
EXTRAS ?=

.PHONY: install install-dev run build serve test bench

$(VENV)/.installed-run-$(PIN)$(EXTRAS): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -e ".[postgres$(EXTRAS)]"
	touch $@

$(VENV)/.installed-dev-$(PIN)$(EXTRAS): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -e ".[postgres,dev$(EXTRAS)]"
	touch $@

install: $(VENV)/.installed-run-$(PIN)$(EXTRAS)

# axe-core (package.json, pinned by package-lock.json) for the accessibility tests: npm ci when missing or the lock changed
node_modules/axe-core/axe.min.js: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm not found: install Node 20 for the accessibility tests (they skip without axe-core, and fail under CI=true)"; exit 0; }; \
	npm ci --no-audit --no-fund --loglevel=error && touch $@

install-dev: $(VENV)/.installed-dev-$(PIN)$(EXTRAS) node_modules/axe-core/axe.min.js

build: install
	$(BIN)/kb build

serve: install
	$(BIN)/kb serve

# Serve at once: a missing or stale index is built beside the server (kb serve --build), then every
# edit to the articles folder (--watch: kb build --watch beside it)
run: install
	$(BIN)/kb serve --build --watch

test: install-dev
	$(BIN)/python -m pytest

bench: install-dev
	$(BIN)/kb bench
