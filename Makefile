# The README's commands: `make run` starts the server, `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The runtime alone: `make run` needs no test or lint tools.
RUNTIME_STAMP := $(VENV)/.runtime
PORT   ?= 8080

.PHONY: install run test check lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUNTIME_STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $(RUNTIME_STAMP)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(RUNTIME_STAMP) $(STAMP)

install: $(STAMP) ## create .venv and install Flightlog with its dev tools

run: $(RUNTIME_STAMP) ## start the server on the embedded SQLite store (PORT=8080; a new store gets the demo history, and `flightlog demo --remove` removes it)
	FLIGHTLOG_SERVER= $(BIN)/flightlog demo --if-empty
	$(BIN)/flightlog serve --port $(PORT)

test: $(STAMP) ## run the whole suite (SQLite and, when reachable, PostgreSQL)
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test ## ruff + mypy strict + tests

bench: $(STAMP) ## run the benchmarks; figures go to bench/RESULTS.md
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
