# Everything routine is a make target; `make test` is what CI runs (.ci/run).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv demo test lint pytest bench clean

# (Re)install when pyproject.toml changes; a fresh clone gets a fresh venv.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/python -m vel_jupyter demo

lint: venv
	$(BIN)/ruff check vel_jupyter tests benchmarks
	$(BIN)/ruff format --check vel_jupyter tests benchmarks
	$(BIN)/mypy

pytest: venv
	$(BIN)/python -m pytest

test: lint pytest

bench: venv
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
