# cloudsmith-mlflow: every target installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: help venv lint typecheck test test-quick bench demo serve clean

help:
	@echo "make demo        create the environment, start the emulator + mlflow server, run the example"
	@echo "make test        the whole suite: ruff, mypy --strict, pytest (slow tests included)"
	@echo "make test-quick  the same without tests marked slow"
	@echo "make bench       benchmarks, written to docs/benchmarks.md"
	@echo "make serve       keep the emulator and the MLflow UI running for browsing"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples scripts
	$(BIN)/ruff format --check src tests benchmarks examples scripts

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

test-quick: lint typecheck
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
