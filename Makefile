# The entry points people type. Everything installs into .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install demo test check lint bench serve clean

$(STAMP): pyproject.toml tests/peers/package-lock.json
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	sh scripts/install-peers.sh
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	bash scripts/demo.sh

test: $(STAMP)
	$(BIN)/pytest -n 2 -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

check: lint test

bench: $(STAMP)
	$(BIN)/python bench/phones.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/segments.py
	$(BIN)/python bench/text.py
	$(BIN)/python bench/render.py
	$(BIN)/python bench/decide.py
	$(BIN)/python bench/plan.py
	$(BIN)/python bench/dispatch.py
	$(BIN)/python bench/redirect.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/automations.py

clean:
	rm -rf $(VENV) tests/peers/node_modules loa.db loa.db-wal loa.db-shm demo-data .pytest_cache .mypy_cache .ruff_cache
