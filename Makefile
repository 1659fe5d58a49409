# innofin — the two commands of the quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SCALE  ?= small
SEED   ?= 42
DEMO_DB ?= innofin-demo.db

.PHONY: demo test test-fast lint typecheck pytest test-schemathesis bench-generate bench-import bench-api bench-score bench-select bench-ledger clean

$(BIN)/innofin: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(BIN)/innofin

# Build the demo database on SQLite, run everything that exists, print a summary.
demo: $(BIN)/innofin
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	INNOFIN_DATABASE_URL=sqlite:///$(DEMO_DB) $(BIN)/innofin demo run --scale $(SCALE) --seed $(SEED)

lint: $(BIN)/innofin
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(BIN)/innofin
	$(BIN)/mypy

# pytest runs on JOBS processes (pytest-xdist; each PostgreSQL test has a schema of its own and
# each SQLite test a file of its own). The schema-driven API run (schemathesis, 30 derandomised
# examples an operation) is a job of its own: `pytest` leaves it out, `test-schemathesis` runs it.
JOBS ?= 2
SCHEMATHESIS := tests/e2e/test_api_schemathesis.py

pytest: $(BIN)/innofin
	$(BIN)/pytest -q -n $(JOBS) --ignore=$(SCHEMATHESIS)

test-schemathesis: $(BIN)/innofin
	$(BIN)/pytest -q $(SCHEMATHESIS)

# everything, on SQLite and (with INNOFIN_TEST_DATABASE_URL) PostgreSQL
test: lint typecheck pytest test-schemathesis

# the fast lane while working: every test not marked slow, on SQLite only, no lint or types
test-fast: $(BIN)/innofin
	INNOFIN_TEST_DATABASE_URL= $(BIN)/pytest -q -n $(JOBS) -m "not slow" --ignore=$(SCHEMATHESIS)

bench-generate: $(BIN)/innofin
	$(BIN)/python benchmarks/bench_generate.py

bench-import: $(BIN)/innofin
	$(BIN)/python benchmarks/bench_import.py

bench-api: $(BIN)/innofin
	$(BIN)/python benchmarks/bench_api.py

bench-score: $(BIN)/innofin
	$(BIN)/python benchmarks/bench_score.py

bench-select: $(BIN)/innofin
	$(BIN)/python benchmarks/bench_select.py

bench-ledger: $(BIN)/innofin
	$(BIN)/python benchmarks/bench_ledger.py

clean:
	rm -rf $(VENV) $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm .pytest_cache .mypy_cache .ruff_cache
