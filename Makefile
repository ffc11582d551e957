# The two commands a newcomer types (see README.md): `make demo` and `make test`.
# Both install what they need into .venv first: the locked dependencies (requirements/test.txt, with hashes), then the
# project itself, editable, without resolving dependencies again. Again whenever setup.cfg or the lock changes.

VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/test.txt
PIP := $(BIN)/pip --quiet --disable-pip-version-check
PORT ?= 5000
SANDBOX_PORT ?= 5001

.PHONY: demo test lint typecheck pytest install lock dist artifact-test extract compile

$(STAMP): setup.cfg pyproject.toml $(LOCK)
	python3 -m venv $(VENV)
	$(PIP) install --require-hashes -r $(LOCK)
	$(PIP) install --no-deps --no-build-isolation -e .
	touch $(STAMP)

# axe-core for the browser tests' accessibility checks, from the npm registry as pinned in its lockfile.
AXE := tests/browser/axe/node_modules/axe-core/axe.min.js
$(AXE): tests/browser/axe/package.json tests/browser/axe/package-lock.json
	bash scripts/ensure-axe

install: $(STAMP) $(AXE)

demo: $(STAMP)
	LTI_TOOL_ENV=development $(BIN)/lti-tool demo --port $(PORT) --sandbox-port $(SANDBOX_PORT)

lint: $(STAMP)
	$(BIN)/ruff check lti_tool tests $(wildcard bench) scripts/artifact_smoke.py

typecheck: $(STAMP)
	$(BIN)/mypy lti_tool

pytest: $(STAMP)
	bash scripts/ensure-services
	bash scripts/ensure-browser
	bash scripts/ensure-axe
	$(BIN)/pytest

# Build the wheels (lti-tool, lti-tool-sandbox) and the sdist into dist/.
dist: $(STAMP)
	PYTHON=$(BIN)/python bash scripts/build-dists dist

# Install the built wheels in a fresh venv outside the checkout and drive a launch, a callback and a grade.
artifact-test: $(STAMP)
	PYTHON=$(BIN)/python bash scripts/artifact-test

test: lint typecheck pytest artifact-test

# Translations (docs/translations.md). `make extract` after changing words people read: it refreshes the template
# lti_tool/translations/messages.pot and adds the new strings, untranslated, to every catalogue (the test
# tests/unit/test_translations.py fails until each is translated); `make compile` writes the .mo files, which are
# committed so that an install from the repository or the wheel needs no build step.
TRANSLATIONS := lti_tool/translations
extract: $(STAMP)
	$(BIN)/pybabel --quiet extract -F babel.cfg -k N_ --no-location --sort-output --omit-header -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel --quiet update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-fuzzy-matching --ignore-obsolete --width 120

compile: $(STAMP)
	$(BIN)/pybabel --quiet compile -d $(TRANSLATIONS)

# Refresh the lock after changing a range in setup.cfg or requirements/tools.in.
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --upgrade --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
	  --output-file requirements/runtime.txt setup.cfg
	$(BIN)/pip-compile --quiet --upgrade --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links --extra test --extra bench \
	  --output-file requirements/test.txt setup.cfg requirements/tools.in
