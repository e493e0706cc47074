# make run: set up (venv, pinned install), build the index if missing or stale, serve on 127.0.0.1:5000
# make test: the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)

.PHONY: install run build serve test bench

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

build: install
	$(BIN)/python scripts/build_index.py

serve: install
	$(BIN)/python scripts/serve.py

run: build serve

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python scripts/bench.py
