# The two commands of the README: `make run` and `make test`. Everything else supports them.
# Candor supports Python 3.11, 3.12 and 3.13: `make run PYTHON=python3.13` picks one.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUPPORTED := import sys; sys.exit(not sys.version_info[:2] >= (3, 11))
START_OVER := echo "start over with: rm -rf $(VENV) && make run PYTHON=python3.x (3.11, 3.12 or 3.13)" >&2

.PHONY: run test check install

# An existing venv keeps its own Python; a venv or a $(PYTHON) too old, or an install that
# fails, says how to start over instead of leaving a half-made venv to trip the next run.
$(STAMP): pyproject.toml
	@if [ -e $(BIN)/python ]; then \
	  $(BIN)/python -c '$(SUPPORTED)' 2>/dev/null || { \
	    echo "$(VENV) was made with $$($(BIN)/python --version 2>&1 || echo a Python that is gone), which Candor does not support." >&2; \
	    $(START_OVER); exit 1; }; \
	else \
	  $(PYTHON) -c '$(SUPPORTED)' 2>/dev/null || { \
	    echo "Candor needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1)." >&2; \
	    $(START_OVER); exit 1; }; \
	  $(PYTHON) -m venv $(VENV) || { $(START_OVER); exit 1; }; \
	fi
	@$(BIN)/pip install --quiet --upgrade pip && $(BIN)/pip install --quiet -e '.[dev]' || { \
	  echo "installing Candor into $(VENV) ($$($(BIN)/python --version 2>&1)) failed." >&2; \
	  $(START_OVER); exit 1; }
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/candor serve

test: $(STAMP)
	scripts/test

check: $(STAMP)
	scripts/check
