# cloudsmith-mlflow: every target installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# The oldest MLflow line the package declares, tested in its own environment.
MLFLOW2_VENV ?= .venv-mlflow2
MLFLOW2_STAMP := $(MLFLOW2_VENV)/.installed-stamp
MLFLOW2_PINS := "mlflow==2.12.2" "sqlalchemy<2.1"
MLFLOW2_SUITES := tests/unit tests/contract tests/mlflow_checklist tests/e2e

.PHONY: help venv lint typecheck test test-quick test-mlflow2 bench demo serve clean

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

$(MLFLOW2_STAMP): pyproject.toml
	test -x $(MLFLOW2_VENV)/bin/python || $(PYTHON) -m venv $(MLFLOW2_VENV)
	$(MLFLOW2_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MLFLOW2_VENV)/bin/python -m pip install --quiet -e . $(MLFLOW2_PINS) \
		pytest pytest-timeout hypothesis psutil tqdm hatchling
	touch $(MLFLOW2_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples scripts
	$(BIN)/ruff format --check src tests benchmarks examples scripts

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck test-mlflow2
	$(BIN)/pytest $(PYTEST_ARGS)

# Unit, contract and checklist suites plus one proxied end-to-end test on MLflow 2.x.
test-mlflow2: $(MLFLOW2_STAMP)
	$(MLFLOW2_VENV)/bin/pytest -m "not e2e or mlflow2" $(MLFLOW2_SUITES) $(PYTEST_ARGS)

test-quick: lint typecheck
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python -m scripts.demo

serve: $(STAMP)
	$(BIN)/python -m scripts.demo --serve

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) $(MLFLOW2_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
