# innofin — the two commands of the quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SCALE  ?= small
SEED   ?= 42
DEMO_DB ?= innofin-demo.db

.PHONY: setup report-font demo test test-fast lint typecheck pytest test-schemathesis bench-generate bench-import bench-api bench-pages bench-score bench-select bench-ledger bench-match bench-timetable bench-allocate bench-report bench-scenario bench-recommend bench-cube bench-funnel clean

$(BIN)/innofin: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(BIN)/innofin

# The browser libraries of the web pages (HTMX, ECharts), pinned by package-lock.json: `npm ci`
# fetches them at set-up into node_modules/ and the files the pages load are copied into the
# package (git-ignored), so innofin serves them itself and no page loads anything from a CDN.
ASSETS := src/innofin/web/static/vendor/.installed
$(ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	mkdir -p $(dir $(ASSETS))
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/echarts/dist/echarts.min.js $(dir $(ASSETS))
	touch $(ASSETS)

# A Chinese TrueType font for the PDF reports (innofin.monitoring.reports.pdf looks for these
# Debian fonts, or the file INNOFIN_REPORT_FONT names): when none is there and make runs as root
# with apt-get, Debian's fonts-wqy-microhei is installed; otherwise a note says what to install.
REPORT_FONTS := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc /usr/share/fonts/truetype/arphic/uming.ttc /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf
report-font:
	@found="$$INNOFIN_REPORT_FONT"; for f in $(REPORT_FONTS); do [ -f "$$f" ] && found="$$f"; done; \
	if [ -n "$$found" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's fonts-wqy-microhei (a Chinese font for the PDF reports)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null; \
	else \
		echo "note: PDF reports need a Chinese TrueType font: apt-get install fonts-wqy-microhei, or set INNOFIN_REPORT_FONT to a .ttf/.ttc file"; \
	fi

# everything a command below needs: the virtualenv, the pages' assets, the reports' font
setup: $(BIN)/innofin $(ASSETS) report-font

# Build the demo database on SQLite, run everything that exists, print a summary.
demo: setup
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	INNOFIN_DATABASE_URL=sqlite:///$(DEMO_DB) $(BIN)/innofin demo run --scale $(SCALE) --seed $(SEED)

# The README's screenshots (docs/screenshots/): the browser test of the ledger's pages takes them
# (test-artefacts/pages/docs-*.png) and scripts/readme_screenshots.py copies them shrunk — at most
# 1,280 px wide, 256 colours, each well under 300 KB.
screenshots: setup $(ASSETS)
	INNOFIN_TEST_DATABASE_URL= $(BIN)/pytest -q -n 0 tests/e2e/test_pages_ledger_browser.py -k test_the_ledger_pages_in_both_languages
	$(BIN)/python scripts/readme_screenshots.py

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: setup
	$(BIN)/mypy

# pytest runs on JOBS processes (pytest-xdist; each PostgreSQL test has a schema of its own and
# each SQLite test a file of its own). The schema-driven API run (schemathesis, 30 derandomised
# examples an operation) is a job of its own: `pytest` leaves it out, `test-schemathesis` runs it.
JOBS ?= 2
SCHEMATHESIS := tests/e2e/test_api_schemathesis.py

pytest: setup
	$(BIN)/pytest -q -n $(JOBS) --ignore=$(SCHEMATHESIS)

test-schemathesis: setup
	$(BIN)/pytest -q $(SCHEMATHESIS)

# everything, on SQLite and (with INNOFIN_TEST_DATABASE_URL) PostgreSQL
test: lint typecheck pytest test-schemathesis

# the fast lane while working: every test not marked slow, on SQLite only, no lint or types
test-fast: setup
	INNOFIN_TEST_DATABASE_URL= $(BIN)/pytest -q -n $(JOBS) -m "not slow" --ignore=$(SCHEMATHESIS)

bench-generate: setup
	$(BIN)/python benchmarks/bench_generate.py

bench-import: setup
	$(BIN)/python benchmarks/bench_import.py

bench-api: setup
	$(BIN)/python benchmarks/bench_api.py

bench-pages: setup $(ASSETS)
	$(BIN)/python benchmarks/bench_pages.py

bench-score: setup
	$(BIN)/python benchmarks/bench_score.py

bench-select: setup
	$(BIN)/python benchmarks/bench_select.py

bench-match: setup
	$(BIN)/python benchmarks/bench_match.py

bench-timetable: setup
	$(BIN)/python benchmarks/bench_timetable.py

bench-allocate: setup
	$(BIN)/python benchmarks/bench_allocate.py

bench-scenario: setup
	$(BIN)/python benchmarks/bench_scenario.py

bench-recommend: setup
	$(BIN)/python benchmarks/bench_recommend.py

# the month-end balance cube of the national demo ledger (1.8 M loans) against pandas
bench-cube: setup
	$(BIN)/python benchmarks/bench_cube.py

# the funnel and the scorecards on the national demo (SQLite, made on the first run) against pandas
bench-funnel: setup
	$(BIN)/python benchmarks/bench_funnel.py

bench-ledger: setup
	$(BIN)/python benchmarks/bench_ledger.py

# one programme report (XLSX and PDF) on the national demo: NATIONAL_DB=file.db (a SQLite
# `innofin demo generate --scale national`) or SNAPSHOT=folder (a Parquet snapshot of it)
bench-report: setup
	$(BIN)/python benchmarks/bench_report.py $(if $(SNAPSHOT),--snapshot $(SNAPSHOT),--national-db $(or $(NATIONAL_DB),innofin-national.db))

clean:
	rm -rf $(VENV) node_modules src/innofin/web/static/vendor $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm .pytest_cache .mypy_cache .ruff_cache
