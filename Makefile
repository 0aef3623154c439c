# sarportal — the README's two commands are `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp
RUNTIME_STAMP := $(VENV)/.runtime-stamp

.PHONY: install demo test lint typecheck pytest bench clean i18n screenshots

# Front-end libraries (npm, pinned by package-lock.json) copied into the portal's static folder,
# and the compiled translations.
NPM_STAMP := node_modules/.install-stamp
VENDOR_STAMP := src/sarportal/web/static/vendor/.build-stamp
TRANSLATIONS := src/sarportal/web/translations
MO_FILES := $(patsubst %.po,%.mo,$(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po))

install: $(STAMP) $(VENDOR_STAMP) $(MO_FILES)

# What the portal needs to run (the demo's set-up), then the tools to test and measure it.
$(RUNTIME_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $(RUNTIME_STAMP)

$(STAMP): pyproject.toml $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NPM_STAMP)

OWN_ASSETS := $(wildcard src/sarportal/web/static/js/*.js src/sarportal/web/static/css/*.css src/sarportal/web/static/img/*.svg)

$(VENDOR_STAMP): $(NPM_STAMP) scripts/build_assets.py assets/echarts.mjs $(OWN_ASSETS) | $(RUNTIME_STAMP)
	$(BIN)/python scripts/build_assets.py
	@touch $(VENDOR_STAMP)

%.mo: %.po | $(RUNTIME_STAMP)
	$(BIN)/pybabel -q compile -i $< -o $@

i18n: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k _l --project=sarportal -o messages.pot src/sarportal
	$(BIN)/pybabel -q update -i messages.pot -d $(TRANSLATIONS) --no-fuzzy-matching
	$(BIN)/pybabel -q compile -d $(TRANSLATIONS)

demo: $(RUNTIME_STAMP) $(VENDOR_STAMP) $(MO_FILES)
	$(BIN)/sarportal demo $(if $(PORT),--port $(PORT))

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# The README's pictures: the demo, photographed page by page in Chromium.
screenshots: install
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
