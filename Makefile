# The two commands a newcomer types (see README.md): `make demo` and `make test`.
# Both install what they need into .venv first (again whenever setup.cfg changes).

VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest install

$(STAMP): setup.cfg pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	LTI_TOOL_ENV=development $(BIN)/lti-tool demo

lint: $(STAMP)
	$(BIN)/ruff check lti_tool tests $(wildcard bench)

typecheck: $(STAMP)
	$(BIN)/mypy lti_tool

pytest: $(STAMP)
	bash scripts/ensure-services
	bash scripts/ensure-browser
	$(BIN)/pytest

test: lint typecheck pytest
