# Two commands: `make run` (set up + serve with demo data on SQLite) and `make test` (set up + whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
.PHONY: run test setup translations interop browser

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/.installed

run: export IDP_CONFIG ?= config/default.toml
run: setup
	mkdir -p instance
	$(BIN)/idp db upgrade
	$(BIN)/idp demo
	# The VNeID sandbox provider (config/default.toml) runs beside the server and stops with it.
	$(BIN)/python -m idp.verifiers.vneid.sandbox --port 5001 & sandbox=$$!; \
	trap 'kill $$sandbox' EXIT INT TERM; \
	$(BIN)/idp serve --host 127.0.0.1 --port 5000

test: setup interop browser
	$(BIN)/python -m pytest

# The npm relying party for tests/live/test_openid_client.py (pinned by its package-lock.json; .ci/run calls this).
INTEROP := tests/live/interop
$(INTEROP)/node_modules/.package-lock.json: $(INTEROP)/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix $(INTEROP) --no-audit --no-fund; \
	else echo "npm not found: the openid-client interop tests will be skipped (CI installs it)"; fi

interop: $(INTEROP)/node_modules/.package-lock.json

# axe-core for the real-browser accessibility tests in tests/browser/ (pinned by its package-lock.json; .ci/run calls this).
BROWSER := tests/browser
$(BROWSER)/node_modules/.package-lock.json: $(BROWSER)/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix $(BROWSER) --no-audit --no-fund; \
	else echo "npm not found: the browser accessibility tests will be skipped (CI installs it)"; fi

browser: $(BROWSER)/node_modules/.package-lock.json

# Refresh the translation catalogues after changing user-facing strings (see tests/test_translations.py).
translations: setup
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _l -k lazy_gettext --no-location --sort-output --project idp -o idp/translations/messages.pot .
	$(BIN)/pybabel update -i idp/translations/messages.pot -d idp/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d idp/translations
