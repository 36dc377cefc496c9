# The two commands of the quick start: `make forecast` and `make test`.
# Everything installs into .venv, so a fresh clone needs only Python 3.11+.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config/sdm-bogota.yaml
MONTH ?= 2026-04

.PHONY: setup forecast test lint clean

$(BIN)/cctwin: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/cctwin

setup: $(BIN)/cctwin

forecast: setup
	$(BIN)/cctwin forecast $(CONFIG) --month $(MONTH) --seed 7 --out out/

lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

test: setup
	bash scripts/test
