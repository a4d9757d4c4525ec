# hf-space-template: the commands a newcomer needs.
#   make demo   render the template with its defaults and run the app on http://localhost:7860
#   make test   run the template's whole test suite
#   make lint   ruff on the template's own Python (tests, hooks)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := build/demo

.PHONY: demo test lint clean

$(BIN)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# Renders this checkout (HEAD plus uncommitted changes) with every default into build/demo.
demo: $(BIN)/.installed
	rm -rf $(DEMO)
	$(BIN)/copier copy --defaults --vcs-ref HEAD . $(DEMO)
	$(PYTHON) -m venv $(DEMO)/.venv
	$(DEMO)/.venv/bin/python -m pip install --quiet -r $(DEMO)/requirements.txt
	cd $(DEMO) && .venv/bin/python start_with_index.py

test: $(BIN)/.installed
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check tests hooks
	$(BIN)/ruff format --check tests hooks

clean:
	rm -rf $(VENV) build
